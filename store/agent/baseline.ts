// The per-process destination baseline: learning, allow patterns, export/import, and the in-memory view the
// detectors read. Counters: `samples` = samples a process/destination appeared in; `connections` = distinct
// connections (counted in the sample where the caller says they started).
import { randomUUID } from 'node:crypto';
import type { Connection } from '../../collectors/types.js';
import type { ConnectionEvent } from '../../core/connection.js';
import type { ProcessKey } from '../../core/process-key.js';
import type Database from 'better-sqlite3';
import type { AgentDb } from './db.js';
import { normaliseAllowRule, type AllowRule, type AllowSource, type StoredAllowRule } from '../../core/allow.js';
import {
  BASELINE_FILE_FORMAT,
  BASELINE_FILE_VERSION,
  diffBaselines,
  parseBaselineFile,
  type BaselineDiff,
  type BaselineFile,
  type BaselineFileProcess,
} from './baseline-file.js';
import { BaselineMemory } from './baseline-view.js';
import { connectionIdOf } from './history.js';
import {
  canonicalGrainValue,
  destinationOf,
  domainValue,
  endpointValue,
  isLoopback,
  networkValue,
  portValue,
  GRAINS,
  type Grain,
} from './grains.js';

export interface LearnEntry {
  row: Connection;
  processKey: ProcessKey | null;
  /** True in the sample where this connection (socket inode or 4-tuple) was first seen. */
  isNew: boolean;
  /** The DNS name of the destination, where the caller knows it. */
  domain?: string | null;
}

export interface LearnSample {
  /** Sample time, ms since the epoch. */
  ts: number;
  /** Learning time this sample stands for (the sampling interval); rates are per minute of the sum. */
  intervalMs: number;
  entries: readonly LearnEntry[];
}

/**
 * Learning entries for one sample: every row (new when a start event names its connection) plus the starts
 * whose rows are not in the table (short connections recovered from TIME_WAIT or conntrack traces).
 */
export function learnEntriesOf(
  rows: readonly Connection[],
  started: readonly ConnectionEvent[],
  keyOf: (row: Connection) => ProcessKey | null,
  domainOf?: (ip: string) => string | null,
): LearnEntry[] {
  const startedIds = new Map<string, ConnectionEvent>();
  for (const e of started) startedIds.set(connectionIdOf(e.row), e);
  const entries: LearnEntry[] = [];
  for (const row of rows) {
    const id = connectionIdOf(row);
    const isNew = startedIds.delete(id);
    entries.push({ row, processKey: keyOf(row), isNew, domain: domainOf?.(row.destination.ip) ?? null });
  }
  for (const e of startedIds.values()) {
    entries.push({ row: e.row, processKey: e.processKey, isNew: true, domain: domainOf?.(e.row.destination.ip) ?? null });
  }
  return entries;
}

export interface BaselineSummary {
  processes: number;
  destinations: Record<Grain, number>;
  allowRules: number;
  learningMs: number;
  firstSeen: number | null;
  lastSeen: number | null;
}

export interface ImportResult {
  alreadyImported: boolean;
  processes: number;
  destinations: number;
  allowRules: number;
}

interface ProcessRow {
  process_key: string;
  first_seen: number;
  last_seen: number;
  samples: number;
  connections: number;
  dns_connections: number;
}

interface DestinationRow {
  process_key: string;
  grain: Grain;
  value: string;
  first_seen: number;
  last_seen: number;
  samples: number;
  connections: number;
}

interface AllowRow {
  id: number;
  process_pattern: string;
  destination: string;
  port: number;
  transport: '' | 'tcp' | 'udp';
  source: AllowSource;
  comment: string | null;
  created_at: number;
}

const META_LEARNING_MS = 'baseline.learning_ms';
const META_GENERATION = 'baseline.generation';
const SEP = '\u0000';

const UPSERT_COUNTS = `
  first_seen = min(first_seen, excluded.first_seen),
  last_seen = max(last_seen, excluded.last_seen),
  samples = samples + excluded.samples,
  connections = connections + excluded.connections`;

function toAllowRule(r: AllowRow): StoredAllowRule {
  return {
    id: r.id,
    process: r.process_pattern,
    destination: r.destination,
    port: r.port === 0 ? null : r.port,
    transport: r.transport === '' ? null : r.transport,
    source: r.source,
    comment: r.comment,
    createdAt: r.created_at,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Rows per multi-row upsert when learning writes grains. */
const UPSERT_BATCH = 64;
/** Learning caches are started afresh past this many grains (once everything is written). */
const MAX_CACHED_GRAINS = 200_000;

/** Sums of one process or grain not yet written, and this sample's counts. */
class Acc {
  first = Number.POSITIVE_INFINITY;
  last = Number.NEGATIVE_INFINITY;
  samples = 0;
  connections = 0;
  dns = 0;
  /** Written to the database at least once by this store (until then every sample writes it). */
  stored = false;
  /** The sample that last touched it, and what that sample counted. */
  seen = 0;
  sampleConnections = 0;
  sampleDns = 0;

  add(ts: number, connections: number, dns: number, dirty: Set<Acc>): void {
    if (ts < this.first) this.first = ts;
    if (ts > this.last) this.last = ts;
    this.samples++;
    this.connections += connections;
    this.dns += dns;
    dirty.add(this);
  }

  clear(): void {
    this.first = Number.POSITIVE_INFINITY;
    this.last = Number.NEGATIVE_INFINITY;
    this.samples = 0;
    this.connections = 0;
    this.dns = 0;
  }
}

class ProcAcc extends Acc {
  constructor(readonly key: ProcessKey) {
    super();
  }
}

class GrainAcc extends Acc {
  constructor(
    readonly key: ProcessKey,
    readonly grain: Grain,
    readonly value: string,
  ) {
    super();
  }
}

/** Where a row's destination counts: nothing (loopback counts only towards the process's rates) or three grains. */
interface Route {
  loopback: boolean;
  dns: boolean;
  endpoint: GrainAcc | null;
  network: GrainAcc | null;
  port: GrainAcc | null;
}

const NO_ROUTE: Route = Object.freeze({ loopback: true, dns: false, endpoint: null, network: null, port: null });

export class BaselineStore {
  private readonly memory = new BaselineMemory();
  private loaded = false;
  /** Generation the memory reflects, and the connection's data_version when it was last compared. */
  private loadedGeneration = -1;
  private seenDataVersion = -1;

  private readonly upsertProcess;
  private readonly upsertDestination;
  private readonly upserts = new Map<number, { stmt: Database.Statement<unknown[]>; args: unknown[] }>();
  private readonly insertAllow;
  private readonly selectAllow;
  private readonly dataVersion;

  // Learning: sums per process and grain since they were last written (see `learn`), and the lookups that spare a
  // sample from building the grain texts of every row again.
  private readonly flushEveryMs: number;
  private flushedAt = Number.NEGATIVE_INFINITY;
  private sampleSeq = 0;
  private pendingLearningMs = 0;
  private readonly procs = new Map<ProcessKey, ProcAcc>();
  private readonly grains = new Map<string, GrainAcc>();
  private readonly routes = new Map<ProcessKey, Map<string, Map<number, Route>>>();
  private readonly domains = new Map<ProcessKey, Map<string, GrainAcc | null>>();
  private readonly dirty = new Set<GrainAcc | ProcAcc>();

  constructor(
    private readonly db: AgentDb,
    opts: { flushEveryMs?: number } = {},
  ) {
    this.flushEveryMs = opts.flushEveryMs ?? 30_000;
    db.beforeClose(() => this.flush());
    const s = db.sqlite;
    this.upsertProcess = s.prepare<[string, number, number, number, number, number]>(
      `INSERT INTO baseline_process (process_key, first_seen, last_seen, samples, connections, dns_connections)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (process_key) DO UPDATE SET ${UPSERT_COUNTS}, dns_connections = dns_connections + excluded.dns_connections`,
    );
    this.upsertDestination = s.prepare<[string, string, string, number, number, number, number]>(
      `INSERT INTO baseline_destination (process_key, grain, value, first_seen, last_seen, samples, connections)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (process_key, grain, value) DO UPDATE SET ${UPSERT_COUNTS}`,
    );
    this.insertAllow = s.prepare<[string, string, number, string, string, string | null, number]>(
      `INSERT INTO baseline_allow (process_pattern, destination, port, transport, source, comment, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (process_pattern, destination, port, transport) DO UPDATE SET comment = coalesce(excluded.comment, comment)`,
    );
    this.selectAllow = s.prepare<[], AllowRow>('SELECT * FROM baseline_allow ORDER BY id');
    this.dataVersion = s.prepare('PRAGMA data_version').pluck();
  }

  /**
   * Records one sample. Runs in one transaction (joining the caller's, if any); the in-memory view changes when it
   * commits. A grain or process seen for the first time (in this store's life) is written at once; what repeats —
   * samples, connection counts, first/last seen and the learning time — is added up in memory and written in one
   * batch every `flushEveryMs` of sample time, by `flush()`, before `summary`/`export`/allow and import writes, and
   * when the database closes. Detection reads the view, which is always current.
   */
  learn(sample: LearnSample): { processes: number; destinations: number } {
    const { ts } = sample;
    const seq = ++this.sampleSeq;
    const procs: ProcAcc[] = [];
    const accs: GrainAcc[] = [];
    const touch = (acc: GrainAcc, isNew: boolean): void => {
      if (acc.seen !== seq) {
        acc.seen = seq;
        acc.sampleConnections = 0;
        accs.push(acc);
      }
      if (isNew) acc.sampleConnections++;
    };
    for (const { row, processKey: key, isNew, domain } of sample.entries) {
      if (key === null) continue;
      const p = this.procAcc(key);
      if (p.seen !== seq) {
        p.seen = seq;
        p.sampleConnections = 0;
        p.sampleDns = 0;
        procs.push(p);
      }
      const route = this.routeOf(key, row);
      if (!route) continue;
      if (isNew) {
        p.sampleConnections++;
        if (route.dns) p.sampleDns++;
      }
      if (route.loopback) continue;
      touch(route.endpoint!, isNew);
      if (route.network) touch(route.network, isNew);
      touch(route.port!, isNew);
      if (domain) {
        const d = this.domainAcc(key, domain);
        if (d) touch(d, isNew);
      }
    }
    const interval = Math.max(0, sample.intervalMs);
    this.db.transaction(() => {
      // Pending sums of earlier samples, when due; then the grains and processes this store has not written yet.
      const flushing = ts - this.flushedAt >= this.flushEveryMs || ts < this.flushedAt ? this.writePending() : null;
      const fresh: Array<GrainAcc | ProcAcc> = [];
      for (const p of procs) {
        if (p.stored) continue;
        this.upsertProcess.run(p.key, Math.min(p.first, ts), Math.max(p.last, ts), p.samples + 1, p.connections + p.sampleConnections, p.dns + p.sampleDns);
        fresh.push(p);
      }
      const freshGrains = accs.filter((d) => !d.stored);
      this.upsertDestinations(freshGrains, ts);
      fresh.push(...freshGrains);
      let stale = false;
      if (flushing || fresh.length > 0) {
        if (flushing) this.flushedAt = ts;
        stale = this.bumpGeneration();
      }
      this.db.afterCommit(() => {
        if (flushing) this.settle(flushing);
        // This sample's counts join the pending sums of what was written before; what was written fresh is final.
        this.pendingLearningMs += interval;
        for (const p of procs) if (p.stored) p.add(ts, p.sampleConnections, p.sampleDns, this.dirty);
        for (const d of accs) if (d.stored) d.add(ts, d.sampleConnections, 0, this.dirty);
        for (const f of fresh) {
          f.stored = true;
          f.clear();
        }
        if (!this.loaded) return;
        if (stale) {
          this.reload();
          return;
        }
        this.memory.addLearningTime(interval);
        for (const p of procs) {
          if (p.sampleConnections > 0 || p.sampleDns > 0 || !this.memory.hasProcess(p.key)) this.memory.addProcess(p.key, p.sampleConnections, p.sampleDns);
        }
        for (const d of freshGrains) this.memory.addDestination(d.key, d.grain, d.value);
      });
    });
    return { processes: procs.length, destinations: accs.length };
  }

  /** Writes what learning has added up since the last write (see `learn`). Joins the caller's transaction. */
  flush(): void {
    if (this.dirty.size === 0 && this.pendingLearningMs === 0) return;
    this.db.transaction(() => {
      const written = this.writePending();
      this.bumpGeneration();
      this.db.afterCommit(() => this.settle(written));
    });
  }

  private writePending(): { accs: Array<GrainAcc | ProcAcc>; learningMs: number } {
    const accs = [...this.dirty];
    const grains: GrainAcc[] = [];
    for (const a of accs) {
      if (a instanceof ProcAcc) this.upsertProcess.run(a.key, a.first, a.last, a.samples, a.connections, a.dns);
      else grains.push(a);
    }
    this.upsertDestinations(grains, null);
    const learningMs = this.pendingLearningMs;
    this.addLearningMs(learningMs);
    // The written sums are cleared once committed: remember what was written, later samples may add more first.
    return { accs, learningMs };
  }

  private settle(written: { accs: Array<GrainAcc | ProcAcc>; learningMs: number }): void {
    for (const a of written.accs) {
      a.clear();
      this.dirty.delete(a);
    }
    this.pendingLearningMs -= written.learningMs;
    // Learning many distinct destinations over a long run: start the caches afresh once everything is written.
    if (this.dirty.size === 0 && this.grains.size > MAX_CACHED_GRAINS) {
      this.grains.clear();
      this.routes.clear();
      this.domains.clear();
      this.procs.clear();
    }
  }

  /**
   * Upserts grains in multi-row statements. With `ts`, one sample's fresh grains (pending sums plus this sample);
   * without, the pending sums.
   */
  private upsertDestinations(list: readonly GrainAcc[], ts: number | null): void {
    let done = 0;
    while (done < list.length) {
      let n = UPSERT_BATCH;
      while (n > list.length - done) n >>= 1;
      const { stmt, args } = this.upsertOf(n);
      for (let k = 0; k < n; k++) {
        const d = list[done + k]!;
        const o = k * 7;
        args[o] = d.key;
        args[o + 1] = d.grain;
        args[o + 2] = d.value;
        if (ts === null) {
          args[o + 3] = d.first;
          args[o + 4] = d.last;
          args[o + 5] = d.samples;
          args[o + 6] = d.connections;
        } else {
          args[o + 3] = Math.min(d.first, ts);
          args[o + 4] = Math.max(d.last, ts);
          args[o + 5] = d.samples + 1;
          args[o + 6] = d.connections + d.sampleConnections;
        }
      }
      stmt.run(args);
      done += n;
    }
  }

  private upsertOf(n: number): { stmt: Database.Statement<unknown[]>; args: unknown[] } {
    let hit = this.upserts.get(n);
    if (!hit) {
      hit = {
        stmt: this.db.sqlite.prepare<unknown[]>(
          `INSERT INTO baseline_destination (process_key, grain, value, first_seen, last_seen, samples, connections)
           VALUES ${Array<string>(n).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')}
           ON CONFLICT (process_key, grain, value) DO UPDATE SET ${UPSERT_COUNTS}`,
        ),
        args: Array<unknown>(n * 7).fill(null),
      };
      this.upserts.set(n, hit);
    }
    return hit;
  }

  private procAcc(key: ProcessKey): ProcAcc {
    let p = this.procs.get(key);
    if (!p) this.procs.set(key, (p = new ProcAcc(key)));
    return p;
  }

  private grainAcc(key: ProcessKey, grain: Grain, value: string): GrainAcc {
    const id = key + SEP + grain + SEP + value;
    let d = this.grains.get(id);
    if (!d) this.grains.set(id, (d = new GrainAcc(key, grain, value)));
    return d;
  }

  /** The grains a row's destination counts towards, cached by process, address and port (null: not a destination). */
  private routeOf(key: ProcessKey, row: Connection): Route | null {
    const state = row.socket.state;
    if (state === 'LISTEN' || state === 'UNCONNECTED' || state === 'SYN_RECV' || state === 'NEW_SYN_RECV') return null;
    if (row.network.direction === 'ingress') return null;
    const { ip, port } = row.destination;
    const transport = row.network.transport;
    let byIp = this.routes.get(key);
    if (!byIp) this.routes.set(key, (byIp = new Map()));
    let byPort = byIp.get(ip);
    if (!byPort) byIp.set(ip, (byPort = new Map()));
    const code = port * 2 + (transport === 'udp' ? 1 : 0);
    let route = byPort.get(code);
    if (route === undefined) {
      const dest = destinationOf(row);
      if (!dest) route = NO_ROUTE;
      else if (isLoopback(dest.ip)) route = { loopback: true, dns: dest.port === 53, endpoint: null, network: null, port: null };
      else {
        const network = networkValue(dest.ip);
        route = {
          loopback: false,
          dns: dest.port === 53,
          endpoint: this.grainAcc(key, 'endpoint', endpointValue(dest.ip, dest.port, dest.transport)),
          network: network === null ? null : this.grainAcc(key, 'network', network),
          port: this.grainAcc(key, 'port', portValue(dest.port, dest.transport)),
        };
      }
      byPort.set(code, route);
    }
    return route === NO_ROUTE ? null : route;
  }

  private domainAcc(key: ProcessKey, domain: string): GrainAcc | null {
    let byName = this.domains.get(key);
    if (!byName) this.domains.set(key, (byName = new Map()));
    let acc = byName.get(domain);
    if (acc === undefined) {
      const value = domainValue(domain);
      acc = value === null ? null : this.grainAcc(key, 'domain', value);
      byName.set(domain, acc);
    }
    return acc;
  }

  /** Adds an allow pattern (or updates its comment); throws SOCKHUNT_E_INPUT for an invalid one. */
  allow(rule: AllowRule, now = Date.now()): StoredAllowRule {
    const r = normaliseAllowRule(rule);
    return this.writeWithReload(() => {
      this.insertAllow.run(r.process, r.destination, r.port ?? 0, r.transport ?? '', r.source, r.comment ?? null, now);
      const row = this.db.sqlite
        .prepare<[string, string, number, string], AllowRow>(
          'SELECT * FROM baseline_allow WHERE process_pattern = ? AND destination = ? AND port = ? AND transport = ?',
        )
        .get(r.process, r.destination, r.port ?? 0, r.transport ?? '');
      if (!row) throw new Error('allow rule vanished after insert');
      return toAllowRule(row);
    });
  }

  /** Replaces every rule of one source (the server pushes its whole allow list). */
  replaceAllow(source: AllowSource, rules: readonly Omit<AllowRule, 'source'>[], now = Date.now()): number {
    const normalised = rules.map((r) => normaliseAllowRule({ ...r, source }));
    return this.writeWithReload(() => {
      this.db.sqlite.prepare('DELETE FROM baseline_allow WHERE source = ?').run(source);
      for (const r of normalised) {
        this.insertAllow.run(r.process, r.destination, r.port ?? 0, r.transport ?? '', source, r.comment ?? null, now);
      }
      return normalised.length;
    });
  }

  removeAllow(id: number): boolean {
    return this.writeWithReload(() => this.db.sqlite.prepare('DELETE FROM baseline_allow WHERE id = ?').run(id).changes > 0);
  }

  listAllow(): StoredAllowRule[] {
    return this.selectAllow.all().map(toAllowRule);
  }

  summary(): BaselineSummary {
    this.flush();
    const s = this.db.sqlite;
    const p = s
      .prepare<[], { n: number; first: number | null; last: number | null }>(
        'SELECT count(*) AS n, min(first_seen) AS first, max(last_seen) AS last FROM baseline_process',
      )
      .get();
    const destinations = Object.fromEntries(GRAINS.map((g) => [g, 0])) as Record<Grain, number>;
    const byGrain = s.prepare<[], { grain: Grain; n: number }>('SELECT grain, count(*) AS n FROM baseline_destination GROUP BY grain').all();
    for (const row of byGrain) destinations[row.grain] = row.n;
    const allowRules = s.prepare('SELECT count(*) FROM baseline_allow').pluck().get() as number;
    return { processes: p?.n ?? 0, destinations, allowRules, learningMs: this.learningMs(), firstSeen: p?.first ?? null, lastSeen: p?.last ?? null };
  }

  export(host: { name?: string } = {}, now = Date.now()): BaselineFile {
    this.flush();
    const s = this.db.sqlite;
    const processes = new Map<string, BaselineFileProcess>();
    for (const p of s.prepare<[], ProcessRow>('SELECT * FROM baseline_process ORDER BY process_key').iterate()) {
      processes.set(p.process_key, {
        key: p.process_key,
        first_seen: iso(p.first_seen),
        last_seen: iso(p.last_seen),
        samples: p.samples,
        connections: p.connections,
        dns_connections: p.dns_connections,
        destinations: [],
      });
    }
    const destinations = s.prepare<[], DestinationRow>('SELECT * FROM baseline_destination ORDER BY process_key, grain, value');
    for (const d of destinations.iterate()) {
      processes.get(d.process_key)?.destinations.push({
        grain: d.grain,
        value: d.value,
        first_seen: iso(d.first_seen),
        last_seen: iso(d.last_seen),
        samples: d.samples,
        connections: d.connections,
      });
    }
    return {
      format: BASELINE_FILE_FORMAT,
      version: BASELINE_FILE_VERSION,
      export_id: randomUUID(),
      exported_at: iso(now),
      host: { id: this.db.agentId(), ...(host.name ? { name: host.name } : {}) },
      learning_ms: this.learningMs(),
      processes: [...processes.values()],
      allow: this.listAllow().map((r) => ({
        process: r.process,
        destination: r.destination,
        port: r.port,
        transport: r.transport,
        source: r.source,
        comment: r.comment ?? null,
      })),
    };
  }

  /**
   * Merges an export (parsed JSON, validated here) into this baseline: counts add up, first/last seen widen,
   * allow rules are added. An export already imported (same export_id) changes nothing.
   */
  import(data: unknown, now = Date.now()): ImportResult {
    const file = parseBaselineFile(data);
    return this.writeWithReload(() => {
      const s = this.db.sqlite;
      const seen = s.prepare('SELECT 1 FROM baseline_import WHERE export_id = ?').pluck().get(file.export_id);
      if (seen) return { alreadyImported: true, processes: 0, destinations: 0, allowRules: 0 };
      let destinationCount = 0;
      for (const p of file.processes) {
        const first = Date.parse(p.first_seen);
        const last = Date.parse(p.last_seen);
        this.upsertProcess.run(p.key, first, last, p.samples, p.connections, p.dns_connections);
        for (const d of p.destinations) {
          const value = canonicalGrainValue(d.grain, d.value);
          if (value === null) continue;
          this.upsertDestination.run(p.key, d.grain, value, Date.parse(d.first_seen), Date.parse(d.last_seen), d.samples, d.connections);
          destinationCount++;
        }
      }
      for (const a of file.allow) {
        const r = normaliseAllowRule({ ...a, comment: a.comment ?? null });
        this.insertAllow.run(r.process, r.destination, r.port ?? 0, r.transport ?? '', r.source, r.comment ?? null, now);
      }
      this.addLearningMs(file.learning_ms);
      s.prepare('INSERT INTO baseline_import (export_id, imported_at, host_id) VALUES (?, ?, ?)').run(file.export_id, now, file.host.id);
      return { alreadyImported: false, processes: file.processes.length, destinations: destinationCount, allowRules: file.allow.length };
    });
  }

  /** What changed from export `a` to export `b` (both validated here). */
  static diff(a: unknown, b: unknown): BaselineDiff {
    return diffBaselines(parseBaselineFile(a), parseBaselineFile(b));
  }

  /**
   * The baseline for detection, in memory. Writes through this store update it as they commit; call
   * `refresh()` once per sample to also pick up writes by other processes (`sockhunt baseline allow|import`).
   */
  view(): BaselineMemory {
    if (!this.loaded) this.reload();
    return this.memory;
  }

  /** Reloads the view when another connection changed the baseline; returns whether it did. Cheap otherwise. */
  refresh(): boolean {
    if (!this.loaded) return false;
    const version = this.dataVersion.get() as number;
    if (version === this.seenDataVersion) return false;
    this.seenDataVersion = version;
    if (this.generation() === this.loadedGeneration) return false;
    this.reload();
    return true;
  }

  private reload(): void {
    const s = this.db.sqlite;
    this.seenDataVersion = this.dataVersion.get() as number;
    this.loadedGeneration = this.generation();
    this.memory.reset(this.learningMs(), this.listAllow());
    const processes = s.prepare<[], Pick<ProcessRow, 'process_key' | 'connections' | 'dns_connections'>>(
      'SELECT process_key, connections, dns_connections FROM baseline_process',
    );
    for (const p of processes.iterate()) this.memory.addProcess(p.process_key, p.connections, p.dns_connections);
    const destinations = s.prepare<[], Pick<DestinationRow, 'process_key' | 'grain' | 'value'>>(
      'SELECT process_key, grain, value FROM baseline_destination',
    );
    for (const d of destinations.iterate()) this.memory.addDestination(d.process_key, d.grain, d.value);
    // What learning has added up but not written yet.
    this.memory.addLearningTime(this.pendingLearningMs);
    for (const a of this.dirty) if (a instanceof ProcAcc) this.memory.addProcess(a.key, a.connections, a.dns);
    this.loaded = true;
  }

  private writeWithReload<T>(fn: () => T): T {
    this.flush();
    return this.db.transaction(() => {
      const result = fn();
      this.bumpGeneration();
      this.db.afterCommit(() => {
        if (this.loaded) this.reload();
      });
      return result;
    });
  }

  private generation(): number {
    return Number(this.db.getMeta(META_GENERATION) ?? '0');
  }

  /** Bumps the generation; returns true when someone else had changed it since the memory was loaded. */
  private bumpGeneration(): boolean {
    const current = this.generation();
    const stale = this.loaded && current !== this.loadedGeneration;
    this.db.setMeta(META_GENERATION, String(current + 1));
    this.db.afterCommit(() => {
      if (this.loaded && !stale) this.loadedGeneration = current + 1;
    });
    return stale;
  }

  private learningMs(): number {
    return Number(this.db.getMeta(META_LEARNING_MS) ?? '0');
  }

  private addLearningMs(ms: number): void {
    if (ms > 0) this.db.setMeta(META_LEARNING_MS, String(this.learningMs() + ms));
  }
}
