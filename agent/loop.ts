// The one place that wires collectors → tracker → detectors → store. One sample: read the socket table (and
// conntrack), find connection starts and ends, then either learn them into the baseline or run the detectors
// and record findings; every write of the sample happens in one transaction.
import type { Collector, Connection, Transport } from '../collectors/types.js';
import { readConntrack, type ConntrackFlow } from '../collectors/conntrack.js';
import { isLoopback } from '../core/ip.js';
import type { AgentStore } from '../store/agent/index.js';
import { processKeyOf } from '../core/process-key.js';
import type { LearnEntry } from '../store/agent/baseline.js';
import { ConnectionTracker, isConnected, type EndedConnection } from './tracker.js';
import { HostFactsSource } from './host-facts.js';
import { type ConfiguredDetector, runDetectors } from './detect/index.js';
import { type BaselineView, type ConnectionEvent, type DetectContext, type ProcessKey, UNATTRIBUTED } from './detect/types.js';
import { FindingRecorder, type RecordedFinding } from './recorder.js';
import type { FindingSink } from '../core/finding.js';
import type { Config } from './config.js';
import { SockhuntError } from '../core/errors.js';

export type LoopMode = 'learn' | 'hunt';

export interface SampleStats {
  ts: number;
  sockets: number;
  started: number;
  processes: number;
  /** learn: destinations touched in this sample. */
  destinations: number;
  findings: RecordedFinding[];
  detectorErrors: Array<{ detector: string; error: unknown }>;
  /** Reading DNS answers failed this sample (it goes on with the names already known). */
  namesError?: unknown;
  /** DNS answers the kernel dropped since the last sample (the tap's buffer was full): names may be missing. */
  namesDropped?: number;
}

export interface LoopOptions {
  collector: Collector & { processCpu?(): Map<number, number> };
  store: AgentStore;
  config: Config;
  mode: LoopMode;
  host: { name: string; id: string };
  detectors: ConfiguredDetector[];
  hostFacts?: HostFactsSource;
  /** Names for destination addresses, from the DNS responses the host receives (collectors/dns-names.ts). */
  dnsNames?: DestinationNames | null;
  /** Gets every finding recorded (new or updated) in the transaction that writes it: the agent's outbox. */
  sink?: FindingSink | null;
}

export interface DestinationNames {
  /** Reads new answers; only those from servers `fromServer` accepts are kept. */
  poll(now: number, fromServer: (ip: string) => boolean): { drops?: number } | void;
  lookup(ip: string, now: number): string | null;
}


export class AgentLoop {
  readonly tracker: ConnectionTracker;
  private readonly hostFacts: HostFactsSource;
  private readonly recorder: FindingRecorder;
  private readonly keysByPid = new Map<number, { executable: string | null; commandLine: string | null; name: string | null; key: ProcessKey | null }>();
  private lastSampleAt: number | null = null;
  mode: LoopMode;

  constructor(private readonly opts: LoopOptions) {
    this.mode = opts.mode;
    this.tracker = new ConnectionTracker((row) => this.keyOf(row));
    this.hostFacts = opts.hostFacts ?? new HostFactsSource({ internalNetworks: opts.config.internal_networks });
    this.recorder = new FindingRecorder({ findings: opts.store.findings, sink: opts.sink ?? null }, opts.host, opts.config.findings.suppression_window);
  }

  private wrapped: { view: BaselineView; wrapper: BaselineView } | null = null;

  private hostWide(view: BaselineView): BaselineView {
    if (this.wrapped?.view !== view) this.wrapped = { view, wrapper: new HostWideEndpoints(view) };
    return this.wrapped.wrapper;
  }

  keyOf(row: Connection): ProcessKey | null {
    const p = row.process;
    if (p.pid === null) return p.executable === null && p.name === null ? null : processKeyOf(p);
    // Rows are new objects every sample, their process facts mostly the same strings: remember the key by pid
    // (no per-row cache: a WeakMap entry per row object costs more, in the lookup and in the collector).
    const cached = this.keysByPid.get(p.pid);
    if (cached && cached.executable === p.executable && cached.commandLine === p.command_line && cached.name === p.name) return cached.key;
    const key = processKeyOf(p);
    if (this.keysByPid.size > 50_000) this.keysByPid.clear();
    if (cached) {
      cached.executable = p.executable;
      cached.commandLine = p.command_line;
      cached.name = p.name;
      cached.key = key;
    } else this.keysByPid.set(p.pid, { executable: p.executable, commandLine: p.command_line, name: p.name, key });
    return key;
  }

  async sample(now = Date.now()): Promise<SampleStats> {
    const { collector, store, config } = this.opts;
    store.baseline.refresh(); // picks up `baseline allow` / `import` made by another process
    const rows = await collector.sample({ netns: config.netns });
    let namesError: unknown;
    let namesDropped = 0;
    if (this.opts.dnsNames) {
      // Only the host's own resolvers (and local stubs) may name addresses: anyone can send a packet from port 53.
      const resolvers = new Set(this.hostFacts.resolvers(now));
      try {
        namesDropped = this.opts.dnsNames.poll(now, (ip) => resolvers.has(ip) || isLoopback(ip))?.drops ?? 0;
      } catch (err) {
        namesError = err;
      }
    }
    let flows: ConntrackFlow[] | null = null;
    if (config.conntrack) flows = readConntrack();
    const { started, ended } = this.tracker.update(rows, now, flows, (ip) => this.hostFacts.isLocalAddress(ip, now));
    const interval = this.lastSampleAt === null ? config.interval : Math.max(0, now - this.lastSampleAt);
    this.lastSampleAt = now;

    const stats: SampleStats = { ts: now, sockets: rows.length, started: started.length, processes: 0, destinations: 0, findings: [], detectorErrors: [], ...(namesError !== undefined ? { namesError } : {}), ...(namesDropped > 0 ? { namesDropped } : {}) };
    const tcpDelta = this.hostFacts.tcpCounterDelta();
    try {
      // One transaction for every write of the sample. History first: the in-memory window takes the starts at
      // once (a rollback undoes it), so the detectors below judge this sample's starts too.
      const keyed = this.keyed(started);
      store.transaction(() => {
        // The row ids go to the tracker once they are committed: it marks each connection's end by its id.
        const first = store.history.recordStarts(keyed, now);
        store.db.afterCommit(() => this.tracker.attach(first));
        if (ended.length > 0) store.history.recordEnds(this.endsOf(ended), now);
        if (this.mode === 'learn') {
          const result = store.baseline.learn({ ts: now, intervalMs: interval, entries: this.learnEntries(rows, started, now) });
          stats.processes = result.processes;
          stats.destinations = result.destinations;
        } else {
          const { drafts, errors } = runDetectors(this.context(rows, keyed, now, tcpDelta), this.opts.detectors);
          stats.detectorErrors = errors;
          stats.findings = this.recorder.record(drafts, now);
        }
      });
    } catch (err) {
      if (err instanceof SockhuntError) throw err;
      throw new SockhuntError('SOCKHUNT_E_DB_WRITE', 'the sample could not be stored', { cause: err });
    }
    return stats;
  }

  /** Starts with no process key are filed under UNATTRIBUTED (a copy only for those). */
  private keyed(started: ConnectionEvent[]): ConnectionEvent[] {
    let out: ConnectionEvent[] | null = null;
    for (let i = 0; i < started.length; i++) {
      const e = started[i]!;
      if (e.processKey !== null) continue;
      out ??= started.slice();
      out[i] = { ...e, processKey: UNATTRIBUTED };
    }
    return out ?? started;
  }

  /** Ends of connections whose start has a history row (its id, attached to the tracker's connection). */
  private endsOf(ended: EndedConnection[]): Array<{ id: number; ts: number }> {
    const out: Array<{ id: number; ts: number }> = [];
    for (const e of ended) if (e.ref > 0) out.push({ id: e.ref, ts: e.end });
    return out;
  }

  private domainOf(ip: string, now: number): string | null {
    return this.opts.dnsNames?.lookup(ip, now) ?? null;
  }

  private learnEntries(rows: Connection[], started: ConnectionEvent[], now: number): LearnEntry[] {
    const fresh = new Set<Connection>();
    const entries: LearnEntry[] = [];
    for (const e of started) {
      if (e.attribution === 'socket') fresh.add(e.row);
      else entries.push({ row: e.row, processKey: e.processKey ?? UNATTRIBUTED, isNew: true, domain: this.domainOf(e.row.destination.ip, now) });
    }
    for (const row of rows) {
      if (!isConnected(row) || row.process.pid === null) continue;
      entries.push({ row, processKey: this.keyOf(row), isNew: fresh.has(row), domain: this.domainOf(row.destination.ip, now) });
    }
    return entries;
  }

  private context(rows: Connection[], started: ConnectionEvent[], now: number, tcpDelta: ReturnType<HostFactsSource['tcpCounterDelta']>): DetectContext {
    const { store, collector, config } = this.opts;
    return {
      now,
      rows,
      started,
      history: store.history.view(),
      baseline: this.hostWide(store.baseline.view()),
      host: {
        hostName: this.opts.host.name,
        resolvers: this.hostFacts.resolvers(now),
        internalNetworks: this.hostFacts.internalNetworks(now).cidrs,
        tcpCounterDelta: tcpDelta,
        processCpu: collector.processCpu?.() ?? new Map(),
      },
      keyOf: (row) => this.keyOf(row),
      domainOf: (ip) => this.domainOf(ip, now),
      sampleIntervalMs: config.interval,
      ageOf: (row) => this.tracker.ageOf(row.socket.inode, now),
    };
  }

  /** Samples every interval until the duration is over or the signal aborts. Sample errors go to onError. */
  async run(options: {
    durationMs: number;
    signal?: AbortSignal;
    onSample?(stats: SampleStats): void;
    onError?(err: unknown): void;
  }): Promise<void> {
    const interval = this.opts.config.interval;
    const end = Date.now() + options.durationMs;
    let next = Date.now();
    while (!options.signal?.aborted) {
      try {
        options.onSample?.(await this.sample());
      } catch (err) {
        options.onError?.(err);
      }
      next += interval;
      const now = Date.now();
      if (next < now) next = now; // fell behind: do not burst to catch up
      if (next > end) break;
      await sleep(next - now, options.signal);
    }
  }
}

/**
 * Short connections are often seen only as traces with no owner, and are learned under UNATTRIBUTED. An endpoint
 * this host was seen talking to while learning is known to any process: the poller whose 80 ms connections were
 * never caught owning a socket while learning is not "first seen" the day one of them is.
 */
/**
 * Short connections are often seen only as traces with no owner and are learned under UNATTRIBUTED. An endpoint
 * the host was seen talking to while learning counts as known to every process: the poller whose 80 ms
 * connections were never caught owning a socket while learning is not "first seen" the day one of them is.
 */
class HostWideEndpoints implements BaselineView {
  constructor(private readonly view: BaselineView) {}
  processCount(): number {
    return this.view.processCount();
  }
  hasProcess(key: ProcessKey): boolean {
    return this.view.hasProcess(key);
  }
  hasEndpoint(key: ProcessKey, ip: string, port: number, transport: Transport): boolean {
    return this.view.hasEndpoint(key, ip, port, transport) || this.view.hasEndpoint(UNATTRIBUTED, ip, port, transport);
  }
  hasNetwork(key: ProcessKey, ip: string): boolean {
    return this.view.hasNetwork(key, ip);
  }
  hasPort(key: ProcessKey, port: number, transport: Transport): boolean {
    return this.view.hasPort(key, port, transport);
  }
  connectionRate(key: ProcessKey): number | null {
    return this.view.connectionRate(key);
  }
  dnsRate(key: ProcessKey): number | null {
    return this.view.dnsRate(key);
  }
  isAllowed(key: ProcessKey, ip: string, port: number, transport: Transport): boolean {
    return this.view.isAllowed(key, ip, port, transport);
  }
  version(): number {
    return this.view.version?.() ?? Number.NaN;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
