// In-memory fakes of the detector contract (agent/detect/types.ts), built from literal data: a baseline, a history and
// the context detectors get. Rows to put in them: ./rows.ts (conn).
import type { Connection, Transport } from '../../collectors/types.js';
import type {
  BaselineView,
  ConnectionEvent,
  DetectContext,
  HistoryView,
  HostFacts,
  ProcessKey,
} from '../../agent/detect/types.js';
import { networkOf } from '../../core/ip.js';
import { NOW } from './rows.js';

export function keyOf(row: Connection): ProcessKey | null {
  if (row.process.pid === null) return null;
  return row.process.executable ?? row.process.name;
}

export function started(row: Connection, ts = NOW, attribution: ConnectionEvent['attribution'] = 'socket'): ConnectionEvent {
  return { ts, processKey: keyOf(row), row, attribution };
}

export interface LearnedProcess {
  /** "ip:port/transport" endpoints seen while learning. */
  endpoints?: string[];
  connectionRate?: number | null;
  dnsRate?: number | null;
}

export interface AllowEntry {
  key?: ProcessKey;
  ip?: string;
  port?: number;
  transport?: Transport;
}

function parseEndpoint(e: string): { ip: string; port: number; transport: Transport } {
  const m = /^\[?(.+?)\]?:(\d+)\/(tcp|udp)$/.exec(e);
  if (!m) throw new Error(`bad endpoint ${e}`);
  return { ip: m[1]!, port: Number(m[2]), transport: m[3] as Transport };
}

export class FakeBaseline implements BaselineView {
  constructor(
    private readonly processes: Record<ProcessKey, LearnedProcess> = {},
    private readonly allow: AllowEntry[] = [],
  ) {}
  private eps(key: ProcessKey) {
    return (this.processes[key]?.endpoints ?? []).map(parseEndpoint);
  }
  processCount() {
    return Object.keys(this.processes).length;
  }
  hasProcess(key: ProcessKey) {
    return Object.hasOwn(this.processes, key);
  }
  hasEndpoint(key: ProcessKey, ip: string, port: number, transport: Transport) {
    return this.eps(key).some((e) => e.ip === ip && e.port === port && e.transport === transport);
  }
  hasNetwork(key: ProcessKey, ip: string) {
    return this.eps(key).some((e) => networkOf(e.ip) === networkOf(ip));
  }
  hasPort(key: ProcessKey, port: number, transport: Transport) {
    return this.eps(key).some((e) => e.port === port && e.transport === transport);
  }
  connectionRate(key: ProcessKey) {
    return this.processes[key]?.connectionRate ?? null;
  }
  dnsRate(key: ProcessKey) {
    return this.processes[key]?.dnsRate ?? null;
  }
  isAllowed(key: ProcessKey, ip: string, port: number, transport: Transport) {
    return this.allow.some(
      (a) =>
        (a.key === undefined || a.key === key) &&
        (a.ip === undefined || a.ip === ip) &&
        (a.port === undefined || a.port === port) &&
        (a.transport === undefined || a.transport === transport),
    );
  }
}

/** A mature baseline: five unrelated processes plus whatever the test adds. */
export function matureBaseline(extra: Record<ProcessKey, LearnedProcess> = {}, allow: AllowEntry[] = []): FakeBaseline {
  return new FakeBaseline(
    {
      '/usr/sbin/sshd': { endpoints: [] },
      '/usr/sbin/chronyd': { endpoints: ['162.159.200.1:123/udp'] },
      '/usr/lib/systemd/systemd-resolved': { endpoints: ['9.9.9.9:53/udp'] },
      '/usr/bin/apt': { endpoints: ['151.101.2.132:80/tcp'] },
      '/usr/sbin/cron': { endpoints: [] },
      ...extra,
    },
    allow,
  );
}

export interface HistoryEntry {
  key: ProcessKey;
  ip: string;
  port: number;
  transport?: Transport;
  ts: number[];
  attribution?: ConnectionEvent['attribution'][];
}

export class FakeHistory implements HistoryView {
  constructor(
    private readonly entries: HistoryEntry[] = [],
    private readonly upTo = Number.POSITIVE_INFINITY,
  ) {}
  private find(key: ProcessKey, ip: string, port: number, transport: Transport) {
    return this.entries.filter((e) => e.key === key && e.ip === ip && e.port === port && (e.transport ?? 'tcp') === transport);
  }
  starts(key: ProcessKey, ip: string, port: number, transport: Transport) {
    return this.find(key, ip, port, transport)
      .flatMap((e) => e.ts)
      .filter((t) => t <= this.upTo)
      .sort((a, b) => a - b);
  }
  events(key: ProcessKey, ip: string, port: number, transport: Transport) {
    return this.find(key, ip, port, transport)
      .flatMap((e) => e.ts.map((ts, i) => ({ ts, attribution: e.attribution?.[i] ?? ('socket' as const) })))
      .filter((e) => e.ts <= this.upTo)
      .sort((a, b) => a.ts - b.ts);
  }
  pairs() {
    const seen = new Map<string, { processKey: ProcessKey; ip: string; port: number; transport: Transport }>();
    for (const e of this.entries) {
      if (!e.ts.some((t) => t <= this.upTo)) continue;
      const transport = e.transport ?? 'tcp';
      seen.set(`${e.key}|${e.ip}|${e.port}|${transport}`, { processKey: e.key, ip: e.ip, port: e.port, transport });
    }
    return [...seen.values()];
  }
}

export interface ContextSpec {
  now?: number;
  rows?: Connection[];
  started?: ConnectionEvent[];
  history?: HistoryView;
  baseline?: BaselineView;
  host?: Partial<HostFacts>;
  sampleIntervalMs?: number;
  ages?: Map<number, number>;
  domains?: Record<string, string>;
}

export function context(s: ContextSpec = {}): DetectContext {
  const ctx: DetectContext = {
    now: s.now ?? NOW,
    rows: s.rows ?? [],
    started: s.started ?? [],
    history: s.history ?? new FakeHistory(),
    baseline: s.baseline ?? matureBaseline(),
    host: {
      hostName: 'web-01',
      resolvers: ['127.0.0.53', '9.9.9.9'],
      internalNetworks: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', 'fe80::/10'],
      tcpCounterDelta: null,
      processCpu: new Map(),
      ...s.host,
    },
    keyOf,
  };
  if (s.sampleIntervalMs !== undefined) ctx.sampleIntervalMs = s.sampleIntervalMs;
  if (s.ages) {
    const ages = s.ages;
    ctx.ageOf = (row) => ages.get(row.socket.inode) ?? null;
  }
  if (s.domains) {
    const domains = s.domains;
    ctx.domainOf = (ip) => domains[ip] ?? null;
  }
  return ctx;
}
