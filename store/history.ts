// Connection history: when each connection started and ended, per process key and destination. The
// detection window of it lives in memory (HistoryView) and is reloaded from the database at start, so beacon
// timing survives a restart. Retention (age and row cap) is enforced in small batches as samples arrive.
import type { Connection, Transport } from '../collectors/types.js';
import type { ConnectionEvent, HistoryView, ProcessKey } from '../agent/detect/types.js';
import type { AgentDb } from './db.js';
import { canonicalIp } from './ip.js';

export interface HistoryOptions {
  /** How far back the in-memory view reaches (default 60 minutes). */
  windowMs?: number;
  /** Rows older than this are deleted (default 7 days). */
  maxAgeMs?: number;
  /** At most this many rows are kept, oldest go first (default 1,000,000). */
  maxRows?: number;
  /** At most this many rows are deleted per prune, to keep each sample's write short (default 5,000). */
  pruneBatch?: number;
  /** Retention runs at most once per this much sample time (default 60 s), unless the row cap is exceeded. */
  pruneEveryMs?: number;
  /** Starts kept in memory per (process, destination), newest win (default 10,000). */
  maxStartsPerPair?: number;
}

export interface HistoryRecord {
  id: number;
  processKey: ProcessKey | null;
  ip: string;
  port: number;
  transport: Transport;
  pid: number | null;
  attribution: Attribution;
  startedAt: number;
  endedAt: number | null;
}

interface HistoryRow {
  id: number;
  process_key: string | null;
  ip: string;
  port: number;
  transport: Transport;
  pid: number | null;
  attribution: Attribution;
  started_at: number;
  ended_at: number | null;
}

/**
 * Identity of a connection across samples: the socket inode (within its network namespace) where the kernel
 * gives one, else the 4-tuple. The loop uses the same identity to decide which rows are new.
 */
export function connectionIdOf(row: Connection): string {
  if (row.socket.inode > 0) return `i:${row.socket.netns ?? ''}:${row.socket.inode}`;
  const t = row.network.transport;
  return `t:${row.socket.netns ?? ''}:${t}:${row.source.ip}:${row.source.port}>${row.destination.ip}:${row.destination.port}`;
}

type Attribution = ConnectionEvent['attribution'];

const EMPTY: readonly number[] = Object.freeze([]);

interface Pair {
  processKey: ProcessKey;
  ip: string;
  port: number;
  transport: Transport;
  starts: number[];
  /** Parallel to `starts`. */
  attributions: Attribution[];
  /** The newest row seen for the pair in this run (rows are not persisted: null after a restart until seen). */
  lastRow: Connection | null;
}

const portCode = (port: number, transport: Transport): number => port * 2 + (transport === 'udp' ? 1 : 0);

/** The starts of the last `windowMs`, by process and destination (process → ip → port/transport). */
export class HistoryWindow implements HistoryView {
  private readonly byProcess = new Map<ProcessKey, Map<string, Map<number, Pair>>>();
  private pairCount = 0;

  constructor(
    readonly windowMs: number,
    private readonly maxStartsPerPair: number,
  ) {}

  add(
    key: ProcessKey,
    ip: string,
    port: number,
    transport: Transport,
    ts: number,
    attribution: Attribution = 'socket',
    row: Connection | null = null,
  ): void {
    let byIp = this.byProcess.get(key);
    if (!byIp) this.byProcess.set(key, (byIp = new Map()));
    let byPort = byIp.get(ip);
    if (!byPort) byIp.set(ip, (byPort = new Map()));
    const code = portCode(port, transport);
    let pair = byPort.get(code);
    if (!pair) {
      byPort.set(code, (pair = { processKey: key, ip, port, transport, starts: [], attributions: [], lastRow: null }));
      this.pairCount++;
    }
    const starts = pair.starts;
    // Starts arrive in time order; a late one (an estimated TIME_WAIT start) is placed where it belongs.
    let i = starts.length;
    while (i > 0 && (starts[i - 1] as number) > ts) i--;
    starts.splice(i, 0, ts);
    pair.attributions.splice(i, 0, attribution);
    if (row && i === starts.length - 1) pair.lastRow = row;
    if (starts.length > this.maxStartsPerPair) {
      const drop = starts.length - this.maxStartsPerPair;
      starts.splice(0, drop);
      pair.attributions.splice(0, drop);
    }
  }

  /** Drops starts older than `now - windowMs`. */
  advance(now: number): void {
    const cutoff = now - this.windowMs;
    for (const [key, byIp] of this.byProcess) {
      for (const [ip, byPort] of byIp) {
        for (const [code, pair] of byPort) {
          const starts = pair.starts;
          if ((starts[0] as number) >= cutoff) continue;
          let i = 0;
          while (i < starts.length && (starts[i] as number) < cutoff) i++;
          if (i < starts.length) {
            starts.splice(0, i);
            pair.attributions.splice(0, i);
            continue;
          }
          byPort.delete(code);
          this.pairCount--;
        }
        if (byPort.size === 0) byIp.delete(ip);
      }
      if (byIp.size === 0) this.byProcess.delete(key);
    }
  }

  clear(): void {
    this.byProcess.clear();
    this.pairCount = 0;
  }

  private pair(key: ProcessKey, ip: string, port: number, transport: Transport): Pair | undefined {
    const byIp = this.byProcess.get(key);
    if (!byIp) return undefined;
    const canonical = ip.includes(':') ? (canonicalIp(ip) ?? ip) : ip;
    return byIp.get(canonical)?.get(portCode(port, transport));
  }

  starts(key: ProcessKey, ip: string, port: number, transport: Transport): readonly number[] {
    return this.pair(key, ip, port, transport)?.starts ?? EMPTY;
  }

  events(key: ProcessKey, ip: string, port: number, transport: Transport): Array<{ ts: number; attribution: Attribution }> {
    const pair = this.pair(key, ip, port, transport);
    if (!pair) return [];
    return pair.starts.map((ts, i) => ({ ts, attribution: pair.attributions[i] ?? 'none' }));
  }

  lastRow(key: ProcessKey, ip: string, port: number, transport: Transport): Connection | null {
    return this.pair(key, ip, port, transport)?.lastRow ?? null;
  }

  pairs(): Array<{ processKey: ProcessKey; ip: string; port: number; transport: Transport }> {
    const out: Array<{ processKey: ProcessKey; ip: string; port: number; transport: Transport }> = [];
    for (const byIp of this.byProcess.values()) {
      for (const byPort of byIp.values()) {
        for (const p of byPort.values()) out.push(p); // the pair itself: no copy per pair per detector per sample
      }
    }
    return out;
  }

  size(): number {
    return this.pairCount;
  }
}

export class HistoryStore {
  private readonly window: HistoryWindow;
  private readonly maxAgeMs: number;
  private readonly maxRows: number;
  private readonly pruneBatch: number;
  private readonly pruneEveryMs: number;
  private lastPruneAt = -Infinity;
  private readonly insertStart;
  private readonly markEnd;
  private readonly idRange;
  private readonly deleteBelowId;
  private readonly deleteOlderThan;

  constructor(
    private readonly db: AgentDb,
    opts: HistoryOptions = {},
    now = Date.now(),
  ) {
    this.window = new HistoryWindow(opts.windowMs ?? 60 * 60_000, opts.maxStartsPerPair ?? 10_000);
    this.maxAgeMs = opts.maxAgeMs ?? 7 * 24 * 60 * 60_000;
    this.maxRows = opts.maxRows ?? 1_000_000;
    this.pruneBatch = opts.pruneBatch ?? 5_000;
    this.pruneEveryMs = opts.pruneEveryMs ?? 60_000;
    const s = db.sqlite;
    this.insertStart = s.prepare<[string | null, string, number, Transport, number | null, string, string, number]>(
      `INSERT INTO connection_history (process_key, ip, port, transport, pid, attribution, conn_id, started_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // The newest open row of that identity: inodes are reused after a socket closes.
    this.markEnd = s.prepare<[number, string]>(
      `UPDATE connection_history SET ended_at = ? WHERE id = (
         SELECT id FROM connection_history WHERE conn_id = ? AND ended_at IS NULL ORDER BY id DESC LIMIT 1)`,
    );
    // Two subqueries: SQLite answers a lone min()/max() from the index end, but scans for both in one SELECT.
    this.idRange = s.prepare<[], { lo: number | null; hi: number | null }>(
      'SELECT (SELECT min(id) FROM connection_history) AS lo, (SELECT max(id) FROM connection_history) AS hi',
    );
    this.deleteBelowId = s.prepare<[number]>('DELETE FROM connection_history WHERE id < ?');
    this.deleteOlderThan = s.prepare<[number, number]>(
      `DELETE FROM connection_history WHERE id IN (
         SELECT id FROM connection_history WHERE started_at < ? ORDER BY started_at LIMIT ?)`,
    );
    this.loadWindow(now);
  }

  /** The in-memory window for detectors. */
  view(): HistoryWindow {
    return this.window;
  }

  /**
   * Records connection starts (and runs retention when due). One transaction, joining the caller's.
   * The in-memory window changes only once the data is committed.
   */
  recordStarts(events: readonly ConnectionEvent[], now = Date.now()): void {
    const added: Array<[ProcessKey, string, number, Transport, number, Attribution, Connection]> = [];
    this.db.transaction(() => {
      for (const e of events) {
        const row = e.row;
        const ip = canonicalIp(row.destination.ip) ?? row.destination.ip;
        const { port } = row.destination;
        const transport = row.network.transport;
        this.insertStart.run(e.processKey, ip, port, transport, row.process.pid, e.attribution, connectionIdOf(row), e.ts);
        if (e.processKey !== null) added.push([e.processKey, ip, port, transport, e.ts, e.attribution, row]);
      }
      this.pruneIfDue(now);
      this.db.afterCommit(() => {
        for (const [key, ip, port, transport, ts, attribution, row] of added) this.window.add(key, ip, port, transport, ts, attribution, row);
        this.window.advance(now);
      });
    });
  }

  /** Marks connections as ended (rows of the previous sample that are gone), by connection identity. */
  recordEnds(ended: ReadonlyArray<{ row: Connection; ts: number }>): number {
    let changed = 0;
    this.db.transaction(() => {
      for (const e of ended) changed += this.markEnd.run(e.ts, connectionIdOf(e.row)).changes;
    });
    return changed;
  }

  /**
   * Deletes rows past retention, at most `pruneBatch` per call (call again while it returns a full batch).
   * Cheap: both deletions walk an index from its oldest end.
   */
  prune(now = Date.now()): number {
    return this.db.transaction(() => {
      this.lastPruneAt = now;
      let budget = this.pruneBatch;
      const { lo, hi } = this.idRange.get() ?? { lo: null, hi: null };
      if (lo !== null && hi !== null && hi - lo + 1 > this.maxRows) {
        // ids are assigned in insertion order and only the oldest are deleted, so hi - lo + 1 tracks the count.
        const below = Math.min(hi - this.maxRows + 1, lo + budget);
        budget -= this.deleteBelowId.run(below).changes;
      }
      if (budget > 0) {
        budget -= this.deleteOlderThan.run(now - this.maxAgeMs, budget).changes;
      }
      return this.pruneBatch - budget;
    });
  }

  /** Recorded connections, newest first. */
  query(opts: { since?: number; until?: number; processKey?: ProcessKey; limit?: number } = {}): HistoryRecord[] {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (opts.since !== undefined) {
      where.push('started_at >= ?');
      args.push(opts.since);
    }
    if (opts.until !== undefined) {
      where.push('started_at < ?');
      args.push(opts.until);
    }
    if (opts.processKey !== undefined) {
      where.push('process_key = ?');
      args.push(opts.processKey);
    }
    const sql = `SELECT * FROM connection_history ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
                 ORDER BY started_at DESC, id DESC LIMIT ?`;
    args.push(opts.limit ?? 1000);
    return this.db.sqlite
      .prepare<Array<string | number>, HistoryRow>(sql)
      .all(...args)
      .map((r) => ({
        id: r.id,
        processKey: r.process_key,
        ip: r.ip,
        port: r.port,
        transport: r.transport,
        pid: r.pid,
        attribution: r.attribution,
        startedAt: r.started_at,
        endedAt: r.ended_at,
      }));
  }

  count(): number {
    return this.db.sqlite.prepare('SELECT count(*) FROM connection_history').pluck().get() as number;
  }

  private pruneIfDue(now: number): void {
    const { lo, hi } = this.idRange.get() ?? { lo: null, hi: null };
    const overCap = lo !== null && hi !== null && hi - lo + 1 > this.maxRows;
    if (overCap || now - this.lastPruneAt >= this.pruneEveryMs) this.prune(now);
  }

  private loadWindow(now: number): void {
    this.window.clear();
    const rows = this.db.sqlite
      .prepare<[number], Pick<HistoryRow, 'process_key' | 'ip' | 'port' | 'transport' | 'started_at' | 'attribution'>>(
        `SELECT process_key, ip, port, transport, started_at, attribution FROM connection_history
         WHERE started_at >= ? AND process_key IS NOT NULL ORDER BY started_at`,
      )
      .iterate(now - this.window.windowMs);
    for (const r of rows) {
      if (r.process_key !== null) this.window.add(r.process_key, r.ip, r.port, r.transport, r.started_at, r.attribution);
    }
  }
}
