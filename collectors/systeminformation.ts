// The macOS / Windows collector: systeminformation's `networkConnections()` for the socket table and its
// `processes()` for names, paths, command lines, parents and users (cached by pid between samples).
//
// What systeminformation 5.33 runs and gets wrong (checked on captured outputs, see test/collectors):
//   win32  `netstat -nao`: no process names at all; the header line comes back as a row (protocol `proto`);
//          output with LF line ends (not CRLF) gives no rows.
//   darwin `netstat -natvln` + `ps -axo pid,command`: `process` is the command up to the first ` -`/` /`/`:`,
//          not a name; every line holding "tcp4|tcp6|udp4|udp6" anywhere is read as a row.
//   linux  `netstat -tunap | grep <tcp states>` (`ss -tunap` if that fails): unconnected UDP is dropped by the
//          grep, names are cut at the first space, long IPv6 addresses are cut by netstat (no `-W`).
// We drop rows that do not read as sockets, take names from the process list, and document the rest.
import { hostname } from 'node:os';
import si from 'systeminformation';
import type { Collector, CollectorSpec, Connection, RawSocket } from './types.js';
import { mayBeCutByNetTools, toConnections, toRawSocket } from './platform-rows.js';
import { ProcessTable, withDeadline, type SiProcess } from './platform-processes.js';
import { SockhuntError } from '../core/errors.js';

export const systemInformationSpec: CollectorSpec = {
  id: 'systeminformation',
  description: 'Socket table from the systeminformation package (netstat on macOS/Windows/Linux) with owners from its process list.',
  platforms: ['darwin', 'win32', 'linux'],
  limitations: [
    'No socket inode (socket.inode is 0), no network namespaces, no user id (user.id is null).',
    'Windows: UDP is always shown unconnected (netstat prints *:* for UDP); no user names (Win32_Process has no owner field).',
    'Windows: process names, paths and command lines come from Win32_Process; processes the agent may not inspect have no path or command line.',
    'macOS: names come from `ps` (argv joined by spaces), split by systeminformation: a relative program followed by arguments (`node app.js`) keeps the arguments in the name.',
    'macOS: systeminformation greps the whole netstat output, so a UNIX socket path holding a newline can add a forged row.',
    'Linux: unconnected UDP sockets are missing; IPv6 addresses that netstat may have cut are dropped; use the linux collector.',
    'FreeBSD/OpenBSD/NetBSD are not supported: systeminformation drops every row of their `netstat -na` (6 columns where it needs 7).',
    'A failed netstat looks like an empty table: systeminformation reports no errors.',
  ],
};

/** The fields of a systeminformation `networkConnections()` entry (runtime values can be null, NaN or ''). */
export interface SiConnection {
  protocol?: unknown;
  localAddress?: unknown;
  localPort?: unknown;
  peerAddress?: unknown;
  peerPort?: unknown;
  state?: unknown;
  pid?: unknown;
  process?: unknown;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : '';
}

/** One systeminformation entry → RawSocket, or null for rows that are not sockets (headers, cut addresses). */
export function socketFromSi(c: SiConnection, platform: NodeJS.Platform): RawSocket | null {
  const local = { host: str(c.localAddress), port: str(c.localPort) };
  const remote = { host: str(c.peerAddress), port: str(c.peerPort) };
  if (platform === 'linux' && (mayBeCutByNetTools(local.host, local.port) || mayBeCutByNetTools(remote.host, remote.port))) {
    return null;
  }
  const s = toRawSocket({
    protocol: str(c.protocol),
    local,
    remote,
    state: str(c.state),
    pid: c.pid,
    // macOS gives the command up to its first argument, Linux the name cut at a space, Windows nothing.
    processName: str(c.process),
  });
  return typeof s === 'string' ? null : s;
}

export interface SystemInformationCollectorOptions {
  /** The platform systeminformation was loaded for (it reads process.platform once, at import). */
  platform?: NodeJS.Platform;
  networkConnections?: () => Promise<readonly SiConnection[]>;
  processes?: () => Promise<{ list?: readonly SiProcess[] }>;
  hostName?: string;
  processMaxAgeMs?: number;
  /** Fail the sample when the connection list takes longer than this. Default 60 s. */
  timeoutMs?: number;
}

export class SystemInformationCollector implements Collector {
  readonly spec = systemInformationSpec;
  /** Entries of the last sample that were not sockets (header lines, cut or unreadable addresses). */
  lastSkipped = 0;
  private readonly platform: NodeJS.Platform;
  private readonly connections: () => Promise<readonly SiConnection[]>;
  private readonly hostName: string;
  private readonly timeoutMs: number;
  readonly processes: ProcessTable;

  constructor(options: SystemInformationCollectorOptions = {}) {
    this.platform = options.platform ?? process.platform;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.connections = options.networkConnections ?? (() => si.networkConnections());
    this.hostName = options.hostName ?? hostname();
    this.processes = new ProcessTable({
      list: options.processes ?? (() => si.processes()),
      platform: this.platform,
      ...(options.processMaxAgeMs !== undefined ? { maxAgeMs: options.processMaxAgeMs } : {}),
    });
  }

  async sample(): Promise<Connection[]> {
    const timestamp = new Date().toISOString();
    let entries: readonly SiConnection[];
    try {
      entries = await withDeadline(this.connections(), this.timeoutMs, 'systeminformation networkConnections()');
    } catch (err) {
      throw new SockhuntError('SOCKHUNT_E_COLLECT', `systeminformation could not list connections: ${(err as Error)?.message ?? err}`, { cause: err });
    }
    if (!Array.isArray(entries)) {
      throw new SockhuntError('SOCKHUNT_E_COLLECT', 'systeminformation returned no connection list');
    }
    const sockets: RawSocket[] = [];
    for (const entry of entries) {
      const s = entry && typeof entry === 'object' ? socketFromSi(entry, this.platform) : null;
      if (s) sockets.push(s);
    }
    this.lastSkipped = entries.length - sockets.length;
    const pids = new Set<number>();
    for (const s of sockets) if (s.pid != null) pids.add(s.pid);
    const owners = await this.processes.resolve(pids);
    return toConnections(sockets, { hostName: this.hostName, timestamp, owners });
  }
}

export function createSystemInformationCollector(options?: SystemInformationCollectorOptions): SystemInformationCollector {
  return new SystemInformationCollector(options);
}
