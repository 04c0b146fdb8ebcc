// The per-process destination baseline: learning, allow patterns, export/import, and the in-memory view the
// detectors read. Counters: `samples` = samples a process/destination appeared in; `connections` = distinct
// connections (counted in the sample where the caller says they started).
import { randomUUID } from 'node:crypto';
import type { Connection } from '../collectors/types.js';
import type { ConnectionEvent, ProcessKey } from '../agent/detect/types.js';
import type { AgentDb } from './db.js';
import { normaliseAllowRule, type AllowRule, type AllowSource, type StoredAllowRule } from './allow.js';
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

export class BaselineStore {
  private readonly memory = new BaselineMemory();
  private loaded = false;
  /** Generation the memory reflects, and the connection's data_version when it was last compared. */
  private loadedGeneration = -1;
  private seenDataVersion = -1;

  private readonly upsertProcess;
  private readonly upsertDestination;
  private readonly insertAllow;
  private readonly selectAllow;
  private readonly dataVersion;

  constructor(private readonly db: AgentDb) {
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

  /** Records one sample. Runs in one transaction (joining the caller's, if any). */
  learn(sample: LearnSample): { processes: number; destinations: number } {
    const { ts } = sample;
    const processes = new Map<ProcessKey, { connections: number; dns: number }>();
    const destinations = new Map<string, { key: ProcessKey; grain: Grain; value: string; connections: number }>();
    const touch = (key: ProcessKey, grain: Grain, value: string | null, isNew: boolean): void => {
      if (value === null) return;
      const id = key + SEP + grain + SEP + value;
      const d = destinations.get(id);
      if (d) d.connections += isNew ? 1 : 0;
      else destinations.set(id, { key, grain, value, connections: isNew ? 1 : 0 });
    };
    for (const { row, processKey: key, isNew, domain } of sample.entries) {
      if (key === null) continue;
      let p = processes.get(key);
      if (!p) processes.set(key, (p = { connections: 0, dns: 0 }));
      const dest = destinationOf(row);
      if (!dest) continue;
      if (isNew) {
        p.connections++;
        if (dest.port === 53) p.dns++;
      }
      if (isLoopback(dest.ip)) continue;
      touch(key, 'endpoint', endpointValue(dest.ip, dest.port, dest.transport), isNew);
      touch(key, 'network', networkValue(dest.ip), isNew);
      touch(key, 'port', portValue(dest.port, dest.transport), isNew);
      if (domain) touch(key, 'domain', domainValue(domain), isNew);
    }
    const interval = Math.max(0, sample.intervalMs);
    this.db.transaction(() => {
      for (const [key, p] of processes) this.upsertProcess.run(key, ts, ts, 1, p.connections, p.dns);
      for (const d of destinations.values()) this.upsertDestination.run(d.key, d.grain, d.value, ts, ts, 1, d.connections);
      this.addLearningMs(interval);
      const stale = this.bumpGeneration();
      this.db.afterCommit(() => {
        if (!this.loaded) return;
        if (stale) {
          this.reload();
          return;
        }
        this.memory.addLearningTime(interval);
        for (const [key, p] of processes) this.memory.addProcess(key, p.connections, p.dns);
        for (const d of destinations.values()) this.memory.addDestination(d.key, d.grain, d.value);
      });
    });
    return { processes: processes.size, destinations: destinations.size };
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
    this.loaded = true;
  }

  private writeWithReload<T>(fn: () => T): T {
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
