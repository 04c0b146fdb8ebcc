// The fallback collector over node-netstat: the platform's `netstat`, run asynchronously (streamed line by line,
// so no output buffer to overflow; the sync mode fails with ENOBUFS above ~10k rows), with owners from
// systeminformation's process list.
//
// node-netstat 1.9 hands each output line to a per-platform parser. We register our own entries beside its
// defaults (commands[`sockhunt:<platform>`], parsers[...]) — its documented extension point — without changing
// the defaults other users of the package see. Our parser runs node-netstat's own one and keeps the line, because
// the parsed item loses what we need:
//   - addresses: `0.0.0.0` and `::` become null (IPv4 and IPv6 wildcards look the same on Windows), macOS
//     `*.80` gets port null and IPv6 `fe80::1%lo0.5353` a wrong port → we split the printed address tokens;
//   - pid: NaN for connected UDP on Linux (the state column shifts the pid), 0 for "not known" → null; on
//     macOS the pid is read from a fixed column that newer macOS fills with a buffer size → trusted only for the
//     12/11-column layout (10.14 and before) it was written for;
//   - a line with too few columns makes it throw inside a stream event (an uncaught exception) → caught per line.
// Commands: Linux `netstat -apntuW` (W: IPv6 addresses uncut), macOS `netstat -anvl` (a: listeners and unbound UDP,
// l: IPv6 addresses uncut), Windows `netstat.exe -a -n -o` (node-netstat's own).
// A static import, not createRequire: bundlers must see it (the single binary has no node_modules). The package
// is CommonJS without type declarations; NodeNetstat below describes what we use of it.
// @ts-expect-error TS7016: node-netstat ships no types
import nodeNetstatPackage from 'node-netstat';
import { hostname } from 'node:os';
import si from 'systeminformation';
import type { Collector, CollectorSpec, Connection, RawSocket } from './types.js';
import { splitEndpoint, toConnections, toRawSocket } from './platform-rows.js';
import { ProcessTable, type SiProcess } from './platform-processes.js';
import { SockhuntError } from '../core/errors.js';

export const netstatSpec: CollectorSpec = {
  id: 'node-netstat',
  description: 'Socket table from the platform netstat through the node-netstat package, owners from the systeminformation process list.',
  platforms: ['linux', 'darwin', 'win32'],
  limitations: [
    'No socket inode (socket.inode is 0), no network namespaces, no user id (user.id is null).',
    'Linux: connected UDP sockets have process.pid null (node-netstat misreads their pid); without root, sockets of other users have no pid.',
    'macOS after 10.14 (the `-v` layout with rxbytes, txbytes, process:pid): node-netstat reads a buffer size as the pid, so process.pid is null; use the systeminformation collector.',
    'Windows: UDP is always shown unconnected (netstat prints *:* for UDP); no user names.',
    'Needs `netstat` (net-tools on Linux).',
  ],
};

/** An item as node-netstat's parsers produce it. */
interface NetstatItem {
  protocol: string;
  state?: string | null;
  pid?: number;
}
type LineParser = (line: string, emit: (item: unknown) => unknown) => unknown;
interface NodeNetstat {
  (options: { platform: string; done: (err?: Error | null) => void }, handler: (item: unknown) => unknown): { cancel(): void } | undefined;
  commands: Record<string, { cmd: string; args: string[] } | undefined>;
  parsers: Record<string, LineParser | undefined>;
  parserFactories: Record<string, ((options?: object) => LineParser) | undefined>;
}

/** What our registered parser hands on for every output line. */
export interface TappedLine {
  line: string;
  /** node-netstat's parse of the line; undefined for lines it skips (headers, other sections). */
  item?: NetstatItem;
  /** What node-netstat threw on this line. */
  error?: unknown;
}

export type NetstatPlatform = 'linux' | 'darwin' | 'win32';

const COMMANDS: Record<NetstatPlatform, { cmd: string; args: string[] }> = {
  linux: { cmd: 'netstat', args: ['-apntuW'] },
  darwin: { cmd: 'netstat', args: ['-anvl'] },
  win32: { cmd: 'netstat.exe', args: ['-a', '-n', '-o'] },
};

function nodeNetstat(): NodeNetstat {
  return nodeNetstatPackage as NodeNetstat;
}

/** Registers `sockhunt:<platform>` once: our command line and node-netstat's parser wrapped to keep each line. */
function registeredKey(platform: NetstatPlatform): string {
  const netstat = nodeNetstat();
  const key = `sockhunt:${platform}`;
  if (!netstat.parsers[key]) {
    const factory = netstat.parserFactories[platform];
    if (!factory) throw new SockhuntError('SOCKHUNT_E_COLLECT', `node-netstat has no parser for ${platform}`);
    const base = factory();
    netstat.commands[key] = COMMANDS[platform];
    netstat.parsers[key] = (line, emit) => {
      const tapped: TappedLine = { line };
      try {
        base(line, (item) => {
          tapped.item = item as NetstatItem;
        });
      } catch (err) {
        tapped.error = err;
      }
      emit(tapped);
    };
  }
  return key;
}

function tokens(line: string): string[] {
  return line.split(/\s+/).filter(Boolean);
}

/**
 * One tapped line → RawSocket, or null when it is not a socket row. node-netstat gives protocol, state and pid;
 * addresses come from the printed tokens at the columns node-netstat itself reads.
 */
export function socketFromNetstat(platform: NetstatPlatform, tapped: TappedLine): RawSocket | null {
  const item = tapped.item;
  if (!item || tapped.error !== undefined || typeof item.protocol !== 'string') return null;
  const parts = tokens(tapped.line);
  const [localText, remoteText] = platform === 'win32' ? [parts[1], parts[2]] : [parts[3], parts[4]];
  if (localText === undefined || remoteText === undefined) return null;
  const style = platform === 'darwin' ? 'dot' : 'colon';
  const local = splitEndpoint(localText, style);
  const remote = splitEndpoint(remoteText, style);
  if (!local || !remote) return null;
  const s = toRawSocket({
    protocol: parts[0] ?? '',
    local,
    remote,
    state: item.state ?? null,
    pid: platform === 'darwin' && !isLegacyDarwinLayout(parts) ? null : item.pid,
  });
  return typeof s === 'string' ? null : s;
}

/** macOS ≤ 10.14 `netstat -v`: tcp rows have 12 columns (…state rhiwat shiwat pid epid state options), udp 11. */
function isLegacyDarwinLayout(parts: string[]): boolean {
  return parts.length === (parts[0]?.startsWith('udp') ? 11 : 12);
}

/**
 * Keeps macOS rows inside the first "Active Internet connections" section: later sections list UNIX socket paths,
 * which a local user chooses and can fill with a forged line.
 */
function darwinSectionFilter(): (line: string) => boolean {
  let state: 'before' | 'inet' | 'after' = 'before';
  return (line) => {
    const t = line.trim();
    if (state === 'before' && t.startsWith('Active Internet connections')) state = 'inet';
    else if (state === 'inet' && t.startsWith('Active ')) state = 'after';
    return state === 'inet';
  };
}

export interface NetstatRun {
  lines: TappedLine[];
}

/** Runs netstat through node-netstat (async mode) and resolves with every line it printed. */
export function runNetstat(platform: NetstatPlatform, timeoutMs: number): Promise<NetstatRun> {
  const netstat = nodeNetstat();
  const key = registeredKey(platform);
  const command = `${COMMANDS[platform].cmd} ${COMMANDS[platform].args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const lines: TappedLine[] = [];
    let settled = false;
    let handle: { cancel(): void } | undefined;
    const finish = (err: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        reject(new SockhuntError('SOCKHUNT_E_COLLECT', `\`${command}\` failed: ${(err as Error)?.message ?? err}`, { cause: err }));
      } else if (lines.length === 0) {
        reject(new SockhuntError('SOCKHUNT_E_COLLECT', `\`${command}\` printed nothing (is netstat installed and on PATH?)`));
      } else {
        resolve({ lines });
      }
    };
    const timer = setTimeout(() => {
      handle?.cancel();
      finish(new Error(`no end after ${timeoutMs} ms`));
    }, timeoutMs);
    try {
      handle = netstat({ platform: key, done: (err) => finish(err ?? null) }, (tapped) => {
        if (!settled) lines.push(tapped as TappedLine);
      });
    } catch (err) {
      finish(err);
    }
  });
}

export interface NetstatCollectorOptions {
  platform?: NodeJS.Platform;
  /** Kill netstat and fail the sample after this long. Default 60 s. */
  timeoutMs?: number;
  processes?: () => Promise<{ list?: readonly SiProcess[] }>;
  hostName?: string;
  processMaxAgeMs?: number;
}

export class NetstatCollector implements Collector {
  readonly spec = netstatSpec;
  /** Socket-looking lines of the last sample that could not be read (node-netstat threw, bad address). */
  lastSkipped = 0;
  readonly processes: ProcessTable;
  private readonly platform: NetstatPlatform;
  private readonly timeoutMs: number;
  private readonly hostName: string;

  constructor(options: NetstatCollectorOptions = {}) {
    const platform = options.platform ?? process.platform;
    if (platform !== 'linux' && platform !== 'darwin' && platform !== 'win32') {
      throw new SockhuntError('SOCKHUNT_E_PLATFORM', `node-netstat does not support ${platform}`);
    }
    this.platform = platform;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.hostName = options.hostName ?? hostname();
    this.processes = new ProcessTable({
      list: options.processes ?? (() => si.processes()),
      platform,
      ...(options.processMaxAgeMs !== undefined ? { maxAgeMs: options.processMaxAgeMs } : {}),
    });
  }

  async sample(): Promise<Connection[]> {
    const timestamp = new Date().toISOString();
    const { lines } = await runNetstat(this.platform, this.timeoutMs);
    const inSection = this.platform === 'darwin' ? darwinSectionFilter() : () => true;
    const sockets: RawSocket[] = [];
    let skipped = 0;
    let sectionSeen = this.platform !== 'darwin';
    for (const tapped of lines) {
      if (!inSection(tapped.line)) continue;
      sectionSeen = true;
      if (tapped.item === undefined && tapped.error === undefined) continue; // header and blank lines
      const s = socketFromNetstat(this.platform, tapped);
      if (s) sockets.push(s);
      else skipped++;
    }
    if (!sectionSeen) {
      throw new SockhuntError('SOCKHUNT_E_COLLECT', 'netstat printed no "Active Internet connections" section');
    }
    this.lastSkipped = skipped;
    const pids = new Set<number>();
    for (const s of sockets) if (s.pid != null) pids.add(s.pid);
    const owners = await this.processes.resolve(pids);
    return toConnections(sockets, { hostName: this.hostName, timestamp, owners });
  }
}

export function createNetstatCollector(options?: NetstatCollectorOptions): NetstatCollector {
  return new NetstatCollector(options);
}
