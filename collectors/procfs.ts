// Parsers over /proc text. Each takes the text (read by an injected reader) and never throws on malformed
// input: a bad line is skipped and counted, so one odd entry degrades only itself.
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import type { Family, RawSocket, SocketState, Transport } from './types.js';
import { formatIPv6Bytes } from '../core/ip.js';

/** Reads /proc. Every method returns null where the entry is gone or unreadable. */
export interface ProcReader {
  readText(path: string): string | null;
  readdir(path: string): string[] | null;
  readlink(path: string): string | null;
  /** Owner uid of a path (for /proc/<pid>: the process's effective uid). */
  ownerUid(path: string): number | null;
}

export const fsProcReader: ProcReader = {
  readText(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return null;
    }
  },
  readdir(path) {
    try {
      return readdirSync(path);
    } catch {
      return null;
    }
  },
  readlink(path) {
    try {
      return readlinkSync(path);
    } catch {
      return null;
    }
  },
  ownerUid(path) {
    try {
      return statSync(path).uid;
    } catch {
      return null;
    }
  },
};

const TCP_STATE_BY_CODE: Record<number, SocketState> = {
  1: 'ESTABLISHED',
  2: 'SYN_SENT',
  3: 'SYN_RECV',
  4: 'FIN_WAIT1',
  5: 'FIN_WAIT2',
  6: 'TIME_WAIT',
  7: 'CLOSE',
  8: 'CLOSE_WAIT',
  9: 'LAST_ACK',
  10: 'LISTEN',
  11: 'CLOSING',
  12: 'SYN_RECV', // NEW_SYN_RECV: a request socket, shown as ss and netstat show it
};

export function tcpStateName(code: number): SocketState {
  return TCP_STATE_BY_CODE[code] ?? 'UNKNOWN';
}

export function udpStateName(code: number): SocketState {
  return code === 1 ? 'ESTABLISHED' : 'UNCONNECTED';
}

export interface ParsedTable {
  sockets: RawSocket[];
  /** Lines that did not parse (malformed, truncated). */
  skipped: number;
}

const scratch = new Uint8Array(16);

/** Kernel hex address → string. IPv4: one little-endian word. IPv6: four host-order (little-endian) words. */
export function decodeHexAddress(hex: string): string | null {
  if (hex.length === 8) {
    const v = parseInt(hex, 16);
    if (!/^[0-9A-Fa-f]{8}$/.test(hex) || Number.isNaN(v)) return null;
    return `${v & 0xff}.${(v >>> 8) & 0xff}.${(v >>> 16) & 0xff}.${v >>> 24}`;
  }
  if (hex.length === 32) {
    if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return null;
    for (let w = 0; w < 4; w++) {
      const v = parseInt(hex.slice(w * 8, w * 8 + 8), 16);
      scratch[w * 4] = v & 0xff;
      scratch[w * 4 + 1] = (v >>> 8) & 0xff;
      scratch[w * 4 + 2] = (v >>> 16) & 0xff;
      scratch[w * 4 + 3] = v >>> 24;
    }
    return formatIPv6Bytes(scratch, 0);
  }
  return null;
}

function decodeEndpoint(text: string): { ip: string; port: number } | null {
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  const ip = decodeHexAddress(text.slice(0, colon));
  const portHex = text.slice(colon + 1);
  const port = parseInt(portHex, 16);
  if (ip === null || !/^[0-9A-Fa-f]{1,4}$/.test(portHex)) return null;
  return { ip, port };
}

/** Parses /proc/net/{tcp,tcp6,udp,udp6}. Prototype: one pass over the text, no regular expressions, and each
 * distinct hex address decoded once per call. */
export function parseSocketTable(text: string, transport: Transport, family: Family): ParsedTable {
  const sockets: RawSocket[] = [];
  let skipped = 0;
  const addrs = new Map<string, string | null>();
  const addr = (hex: string): string | null => {
    let ip = addrs.get(hex);
    if (ip === undefined) addrs.set(hex, (ip = isHex(hex, 0, hex.length) ? decodeHexAddress(hex) : null));
    return ip;
  };
  const starts: number[] = new Array(10).fill(0);
  const ends: number[] = new Array(10).fill(0);
  let pos = text.indexOf('\n') + 1; // the header line
  if (pos === 0) return { sockets, skipped };
  while (pos < text.length) {
    let eol = text.indexOf('\n', pos);
    if (eol < 0) eol = text.length;
    // Fields 0..9 of the line: [start, end) offsets.
    let n = 0;
    let i = pos;
    while (n < 10) {
      while (i < eol && text.charCodeAt(i) === 32) i++;
      if (i >= eol) break;
      starts[n] = i;
      while (i < eol && text.charCodeAt(i) !== 32) i++;
      ends[n++] = i;
    }
    const lineStart = pos;
    pos = eol + 1;
    if (n === 0 && eol === lineStart) continue; // empty line
    if (n < 10) {
      skipped++;
      continue;
    }
    const lc = text.indexOf(':', starts[1]!);
    const rc = text.indexOf(':', starts[2]!);
    if (lc < 0 || lc >= ends[1]! || rc < 0 || rc >= ends[2]! || ends[1]! - lc - 1 > 4 || ends[2]! - rc - 1 > 4 ||
        !isHex(text, lc + 1, ends[1]!) || !isHex(text, rc + 1, ends[2]!) || !isHex(text, starts[3]!, ends[3]!)) {
      skipped++;
      continue;
    }
    const localIp = addr(text.slice(starts[1]!, lc));
    const remoteIp = addr(text.slice(starts[2]!, rc));
    const uid = Number(text.slice(starts[7]!, ends[7]!));
    const inode = Number(text.slice(starts[9]!, ends[9]!));
    if (localIp === null || remoteIp === null || !Number.isInteger(uid) || !Number.isInteger(inode)) {
      skipped++;
      continue;
    }
    const stateCode = parseInt(text.slice(starts[3]!, ends[3]!), 16);
    sockets.push({
      family,
      transport,
      state: transport === 'tcp' ? tcpStateName(stateCode) : udpStateName(stateCode),
      localIp,
      localPort: parseInt(text.slice(lc + 1, ends[1]!), 16),
      remoteIp,
      remotePort: parseInt(text.slice(rc + 1, ends[2]!), 16),
      uid,
      inode,
    });
  }
  return { sockets, skipped };
}

function isHex(text: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i) | 0x20;
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** User + system CPU time in clock ticks. */
  cpuTicks: number;
  /** Start time in clock ticks since boot. */
  startTime: number;
}

/** Parses /proc/<pid>/stat. The comm field may hold spaces and parentheses: it ends at the LAST ')'. */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text.slice(close + 2).split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const ppid = Number(rest[1]);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  const startTime = Number(rest[19]);
  if (!Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isFinite(startTime)) return null;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? '?',
    ppid,
    cpuTicks: (Number.isFinite(utime) ? utime : 0) + (Number.isFinite(stime) ? stime : 0),
    startTime,
  };
}

/** Effective uid from /proc/<pid>/status ("Uid: real effective saved fs"). */
export function parseStatusUid(text: string): number | null {
  const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(text);
  return m ? Number(m[2]) : null;
}

export const COMMAND_LINE_CAP = 4096;

/** NUL-separated argv → one readable line; arguments with spaces are quoted; capped. */
export function parseCmdline(text: string, cap = COMMAND_LINE_CAP): { argv: string[]; line: string } | null {
  if (text.length === 0) return null; // kernel threads and zombies
  const argv = text.split('\0');
  if (argv[argv.length - 1] === '') argv.pop();
  let line = argv.map((a) => (a === '' || /[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ');
  if (line.length > cap) line = `${line.slice(0, cap)}…[+${line.length - cap} chars]`;
  return { argv, line };
}

/** /etc/passwd → uid → name. */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3) continue;
    const uid = Number(f[2]);
    if (f[0] && Number.isInteger(uid) && !users.has(uid)) users.set(uid, f[0]);
  }
  return users;
}

/** Container id from /proc/<pid>/cgroup (docker, containerd, cri-o, podman, libpod: a 64-hex id). */
export function parseContainerId(text: string): string | null {
  const m = /(?:docker|cri-containerd|crio|libpod|containerd)[-/:]([0-9a-f]{64})/.exec(text) ?? /\b([0-9a-f]{64})\b/.exec(text);
  return m ? m[1]! : null;
}

/** Namespace link text "net:[4026531840]" → "4026531840". */
export function parseNamespaceLink(link: string): string | null {
  const m = /^\w+:\[(\d+)\]$/.exec(link);
  return m ? m[1]! : null;
}

/** Socket fd link "socket:[12345]" → 12345. */
export function parseSocketLink(link: string): number | null {
  if (!link.startsWith('socket:[')) return null;
  const n = Number(link.slice(8, -1));
  return Number.isInteger(n) ? n : null;
}

export interface TcpCounters {
  activeOpens: number;
  passiveOpens: number;
  attemptFails: number;
  estabResets: number;
  outRsts: number;
}

/** The Tcp: lines of /proc/net/snmp (a header line, then a value line). */
export function parseSnmpTcp(text: string): TcpCounters | null {
  const lines = text.split('\n').filter((l) => l.startsWith('Tcp:'));
  if (lines.length < 2) return null;
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  const get = (n: string): number => {
    const i = names.indexOf(n);
    const v = i >= 0 ? values[i] : undefined;
    return v !== undefined && Number.isFinite(v) ? v : 0;
  };
  return {
    activeOpens: get('ActiveOpens'),
    passiveOpens: get('PassiveOpens'),
    attemptFails: get('AttemptFails'),
    estabResets: get('EstabResets'),
    outRsts: get('OutRsts'),
  };
}

/** Nameserver addresses from resolv.conf text. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push(m[1]!.replace(/%.*$/, ''));
  }
  return out;
}
