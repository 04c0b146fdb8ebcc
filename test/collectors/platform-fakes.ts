// Fake platform tools for the collector tests: `netstat`, `netstat.exe`, `ps` and `powershell.exe` scripts that
// print a captured fixture and log how they were called. platform-harness.ts runs the real libraries against them.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, createConnection, type AddressInfo } from 'node:net';
import { createSocket } from 'node:dgram';
import { chmodSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection } from '../../collectors/types.js';
import { tempDir } from '../support/tmp.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HARNESS = fileURLToPath(new URL('./platform-harness.ts', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/platforms/', import.meta.url));

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}

export function readFixture(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}

/** The socket lines of a Windows `netstat -ano`-style capture, split on whitespace (the test's own reading). */
export function windowsRows(text: string): string[][] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim().split(/\s+/))
    .filter((p) => p[0] === 'TCP' || p[0] === 'UDP');
}

const NETSTAT = `#!/bin/sh
printf '%s\\n' "$(basename "$0") $*" >> "$FAKE_LOG"
if [ -n "$FAKE_NETSTAT_HANG" ]; then exec sleep 600; fi
if [ -z "$FAKE_NETSTAT" ]; then echo "netstat: no fixture" >&2; exit 1; fi
if [ -n "$FAKE_NETSTAT_CRLF" ]; then exec sed 's/\\r*$/\\r/' "$FAKE_NETSTAT"; fi
exec cat "$FAKE_NETSTAT"
`;
const PS = `#!/bin/sh
printf '%s\\n' "ps $*" >> "$FAKE_LOG"
case "$*" in
  *pid,command*) f="$FAKE_PS_PIDCMD" ;;
  *) f="$FAKE_PS" ;;
esac
if [ -z "$f" ]; then echo "ps: no fixture" >&2; exit 1; fi
exec cat "$f"
`;
const POWERSHELL = `#!/bin/sh
printf '%s\\n' "powershell.exe $*" >> "$FAKE_LOG"
cat > /dev/null
if [ -z "$FAKE_POWERSHELL" ]; then echo "powershell: no fixture" >&2; exit 1; fi
exec cat "$FAKE_POWERSHELL"
`;

export interface HarnessOptions {
  collector: 'systeminformation' | 'node-netstat';
  platform: NodeJS.Platform;
  /** Fixture printed by `netstat`/`netstat.exe`; omit to have them fail, null to leave them out of PATH. */
  netstat?: string | null;
  /** Print the netstat fixture with CRLF line ends, as Windows does. */
  crlf?: boolean;
  /** `netstat` never ends. */
  hang?: boolean;
  /** macOS `ps -axo pid,ppid,…` (systeminformation's process list) and `ps -axo pid,command`. */
  ps?: string;
  psPidCommand?: string;
  /** Windows `Get-CimInstance Win32_Process … | ConvertTo-Json` output. */
  powershell?: string;
  /** Also run the library on its own and return what it produced. */
  library?: boolean;
  timeoutMs?: number;
}

export interface HarnessResult {
  library?: any[];
  rows?: Connection[];
  skipped?: number;
  processError?: string | null;
  error?: { code: string | null; message: string };
  /** Every fake tool call, `name args…`, in order. */
  calls: string[];
  stderr: string;
}

export async function runHarness(o: HarnessOptions): Promise<HarnessResult> {
  const tmp = tempDir('sockhunt-fakes-');
  const dir = tmp.dir;
  try {
    const tool = (name: string, body: string): void => {
      writeFileSync(join(dir, name), body);
      chmodSync(join(dir, name), 0o755);
    };
    if (o.netstat !== null) {
      tool('netstat', NETSTAT);
      tool('netstat.exe', NETSTAT);
    }
    tool('ps', PS);
    tool('powershell.exe', POWERSHELL);
    const log = join(dir, 'calls.log');
    writeFileSync(log, '');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // The fakes first; cat, sed, head and grep (the fakes, systeminformation's pipelines) from the system after
      // them — unless netstat is to be missing, when the real one must not be found either.
      PATH: o.netstat === null ? dir : `${dir}:/usr/bin:/bin`,
      FAKE_LOG: log,
      FAKE_NETSTAT: o.netstat ? fixturePath(o.netstat) : '',
      FAKE_NETSTAT_CRLF: o.crlf ? '1' : '',
      FAKE_NETSTAT_HANG: o.hang ? '1' : '',
      FAKE_PS: o.ps ? fixturePath(o.ps) : '',
      FAKE_PS_PIDCMD: o.psPidCommand ? fixturePath(o.psPidCommand) : '',
      FAKE_POWERSHELL: o.powershell ? fixturePath(o.powershell) : '',
    };
    const args = ['--import', 'tsx', HARNESS, o.collector, o.platform];
    if (o.library) args.push('--library');
    if (o.timeoutMs !== undefined) args.push('--timeout', String(o.timeoutMs));
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile(process.execPath, args, { cwd: ROOT, env, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`harness failed: ${err.message}\n${stderr}`));
        else resolve({ stdout, stderr });
      });
    });
    let parsed: Omit<HarnessResult, 'calls' | 'stderr'>;
    try {
      parsed = JSON.parse(stdout);
    } catch {
      throw new Error(`harness printed no JSON:\n${stdout}\n${stderr}`);
    }
    const calls = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    return { ...parsed, calls, stderr };
  } finally {
    tmp.remove();
  }
}

/** The row whose local endpoint (and transport) is the given one; fails loudly when there is not exactly one. */
export function rowAt(rows: Connection[], transport: 'tcp' | 'udp', ip: string, port: number, remote?: { ip: string; port: number }): Connection {
  const found = rows.filter(
    (r) =>
      r.network.transport === transport &&
      r.source.ip === ip &&
      r.source.port === port &&
      (!remote || (r.destination.ip === remote.ip && r.destination.port === remote.port)),
  );
  if (found.length !== 1) {
    throw new Error(`expected one ${transport} row at ${ip}:${port}${remote ? ` → ${remote.ip}:${remote.port}` : ''}, found ${found.length}`);
  }
  return found[0]!;
}

const STATES = new Set([
  'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK',
  'LISTEN', 'CLOSING', 'UNCONNECTED', 'NEW_SYN_RECV', 'UNKNOWN',
]);

/** Checks one row against the Connection contract of DESIGN.md; returns the problems (empty when fine). */
export function rowProblems(r: Connection): string[] {
  const p: string[] = [];
  const isIp = (ip: unknown, type: 'ipv4' | 'ipv6' | null): boolean =>
    typeof ip === 'string' && (type === 'ipv4' ? /^\d{1,3}(\.\d{1,3}){3}$/.test(ip) : type === 'ipv6' ? ip.includes(':') && !/[[\]%]/.test(ip) : true);
  const port = (n: unknown): boolean => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 65535;
  if (Number.isNaN(Date.parse(r['@timestamp']))) p.push('@timestamp');
  if (typeof r.host?.name !== 'string' || r.host.name === '') p.push('host.name');
  if (r.process.pid !== null && !(Number.isInteger(r.process.pid) && r.process.pid > 0)) p.push('process.pid');
  if (r.process.pid === null && (r.process.name !== null || r.process.executable !== null)) p.push('owner details without a pid');
  if (JSON.stringify(r.socket.owner_pids) !== JSON.stringify(r.process.pid === null ? [] : [r.process.pid])) p.push('socket.owner_pids');
  if (!['tcp', 'udp'].includes(r.network.transport)) p.push('network.transport');
  if (!isIp(r.source.ip, r.network.type)) p.push('source.ip vs network.type');
  if (!isIp(r.destination.ip, null)) p.push('destination.ip');
  if (!port(r.source.port) || !port(r.destination.port)) p.push('port');
  if (!STATES.has(r.socket.state)) p.push('socket.state');
  if (r.network.transport === 'udp' && !['ESTABLISHED', 'UNCONNECTED'].includes(r.socket.state)) p.push('udp state');
  if (!['inet', 'inet6'].includes(r.socket.family)) p.push('socket.family');
  if (r.socket.family === 'inet' && r.network.type !== 'ipv4') p.push('family inet with an IPv6 address');
  const listener = r.socket.state === 'LISTEN' || r.socket.state === 'UNCONNECTED';
  if (listener ? r.network.direction !== undefined : !['egress', 'ingress'].includes(r.network.direction ?? '')) p.push('network.direction');
  return p;
}

export function invalidRows(rows: Connection[]): Array<{ row: Connection; problems: string[] }> {
  return rows.map((row) => ({ row, problems: rowProblems(row) })).filter((x) => x.problems.length > 0);
}

/**
 * Opens, on loopback only: a TCP listener with one connection to it, the same over IPv6 (::1) and over an
 * IPv4-mapped IPv6 listener, an unconnected UDP socket and a UDP socket connected to it. For the real-machine tests.
 */
export async function openLoopbackTable(): Promise<{
  tcp: number;
  tcp6: number;
  mapped: number;
  udpOpen: number;
  udpConnected: number;
  close(): void;
}> {
  const closers: Array<() => void> = [];
  const listen = async (host: string): Promise<number> => {
    const server = createServer((sock) => closers.push(() => sock.destroy())).listen(0, host);
    closers.push(() => server.close());
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const client = createConnection(port, host.startsWith('::ffff:') ? host.slice(7) : host);
    closers.push(() => client.destroy());
    await once(client, 'connect');
    return port;
  };
  try {
    const tcp = await listen('127.0.0.1');
    const tcp6 = await listen('::1');
    const mapped = await listen('::ffff:127.0.0.1');
    const open = createSocket('udp4');
    closers.push(() => open.close());
    await new Promise<void>((res) => open.bind(0, '127.0.0.1', res));
    const udpOpen = open.address().port;
    const connected = createSocket('udp4');
    closers.push(() => connected.close());
    await new Promise<void>((res) => connected.connect(udpOpen, '127.0.0.1', () => res()));
    return { tcp, tcp6, mapped, udpOpen, udpConnected: connected.address().port, close: () => closers.forEach((c) => c()) };
  } catch (err) {
    closers.forEach((c) => c());
    throw err;
  }
}

/** Checks the rows of openLoopbackTable(): listeners, accepted (ingress) and initiated (egress) ends, families. */
export function loopbackProblems(rows: Connection[], t: { tcp: number; tcp6: number; mapped: number }, pid: number): string[] {
  const problems: string[] = [];
  const expectRow = (what: string, pred: (r: Connection) => boolean, want: Record<string, unknown>): void => {
    const found = rows.filter(pred);
    if (found.length !== 1) return void problems.push(`${what}: ${found.length} rows`);
    const r = found[0]!;
    const got: Record<string, unknown> = {
      state: r.socket.state, family: r.socket.family, type: r.network.type, direction: r.network.direction, pid: r.process.pid,
    };
    for (const [k, v] of Object.entries(want)) if (got[k] !== v) problems.push(`${what}: ${k} is ${String(got[k])}, not ${String(v)}`);
    problems.push(...rowProblems(r).map((p) => `${what}: ${p}`));
  };
  const at = (ip: string, port: number, state: string) => (r: Connection) =>
    r.network.transport === 'tcp' && r.source.ip === ip && r.source.port === port && r.socket.state === state;
  const to = (ip: string, port: number) => (r: Connection) =>
    r.network.transport === 'tcp' && r.destination.ip === ip && r.destination.port === port && r.socket.state === 'ESTABLISHED';
  const cases: Array<[string, string, number, 'inet' | 'inet6', 'ipv4' | 'ipv6']> = [
    ['IPv4', '127.0.0.1', t.tcp, 'inet', 'ipv4'],
    ['IPv6', '::1', t.tcp6, 'inet6', 'ipv6'],
    ['IPv4-mapped', '127.0.0.1', t.mapped, 'inet6', 'ipv4'],
  ];
  for (const [name, ip, port, family, type] of cases) {
    expectRow(`${name} listener`, at(ip, port, 'LISTEN'), { family, type, direction: undefined, pid });
    expectRow(`${name} accepted`, at(ip, port, 'ESTABLISHED'), { family, type, direction: 'ingress', pid });
    expectRow(`${name} initiated`, to(ip, port), { type, direction: 'egress', pid });
  }
  return problems;
}
