// Runs `ss -tunapHe` and parses its rows: the independent reference the Linux collector is checked against.
import { execFileSync } from 'node:child_process';

export interface SsRow {
  transport: 'tcp' | 'udp';
  state: string;
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  inode: number;
  uid: number;
  pids: number[];
  names: string[];
}

const STATE: Record<string, string> = {
  ESTAB: 'ESTABLISHED', LISTEN: 'LISTEN', UNCONN: 'UNCONNECTED', 'TIME-WAIT': 'TIME_WAIT', 'SYN-SENT': 'SYN_SENT',
  'SYN-RECV': 'SYN_RECV', 'FIN-WAIT-1': 'FIN_WAIT1', 'FIN-WAIT-2': 'FIN_WAIT2', 'CLOSE-WAIT': 'CLOSE_WAIT',
  'LAST-ACK': 'LAST_ACK', CLOSING: 'CLOSING', CLOSE: 'CLOSE',
};

function endpoint(text: string): { ip: string; port: number } {
  const i = text.lastIndexOf(':');
  let ip = text.slice(0, i).replace(/%[^\]]*$/, '');
  if (ip.startsWith('[')) ip = ip.slice(1, -1).replace(/%.*$/, '');
  if (ip === '*') ip = '::'; // ss prints a dual-stack (not v6only) wildcard as *

  if (ip.startsWith('::ffff:') && ip.includes('.')) ip = ip.slice(7);
  const port = text.slice(i + 1);
  return { ip, port: port === '*' ? 0 : Number(port) };
}

export function parseSs(text: string): SsRow[] {
  const rows: SsRow[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || (f[0] !== 'tcp' && f[0] !== 'udp')) continue;
    const local = endpoint(f[4]!);
    const remote = endpoint(f[5]!);
    const rest = f.slice(6).join(' ');
    const pids = [...rest.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    const names = [...rest.matchAll(/\("((?:[^"\\]|\\.)*)",pid=/g)].map((m) => m[1]!);
    rows.push({
      transport: f[0],
      state: STATE[f[1]!] ?? f[1]!,
      localIp: local.ip,
      localPort: local.port,
      remoteIp: remote.ip,
      remotePort: remote.port,
      inode: Number(/ino:(\d+)/.exec(rest)?.[1] ?? 0),
      uid: Number(/uid:(\d+)/.exec(rest)?.[1] ?? 0),
      pids: [...new Set(pids)].sort((a, b) => a - b),
      names,
    });
  }
  return rows;
}

export function runSs(): SsRow[] {
  return parseSs(execFileSync('ss', ['-tunapHe'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
}
