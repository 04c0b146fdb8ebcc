// Connection history: when each connection started and ended, per process key and destination. The
// detection window of it lives in memory (HistoryView) and is reloaded from the database at start, so beacon
// timing survives a restart. Retention (age and row cap) is enforced in small batches as samples arrive.
import type { Connection, Transport } from '../../collectors/types.js';
import type { ConnectionEvent } from '../../core/connection.js';
import type { ProcessKey } from '../../core/process-key.js';
import type Database from 'better-sqlite3';
import type { AgentDb } from './db.js';
import { canonicalIp } from '../../core/ip.js';
import { HistoryWindow } from './history-window.js';

export { HistoryWindow };

type Attribution = ConnectionEvent['attribution'];

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
  /** Ends of connections are buffered and written at most this often, in sample time (default 30 s; 0: at once). */
  endFlushEveryMs?: number;
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

/** Rows per INSERT statement (a batch of starts goes in chunks of this, then halves). */
const INSERT_BATCH = 64;
/** Ids per UPDATE that marks ends. */
const END_BATCH = 32;

export class HistoryStore {
  private readonly window: HistoryWindow;
  private readonly maxAgeMs: number;
  private readonly maxRows: number;
  private readonly pruneBatch: number;
  private readonly pruneEveryMs: number;
  private readonly endFlushEveryMs: number;
  private lastPruneAt = -Infinity;
  /** Multi-row INSERT statements by row count (64, and powers of two below for the rest). */
  private readonly inserts = new Map<number, { stmt: Database.Statement<unknown[]>; args: unknown[] }>();
  private readonly markEnds;
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
    this.endFlushEveryMs = opts.endFlushEveryMs ?? 30_000;
    db.beforeClose(() => this.flushEnds());
    const s = db.sqlite;
    // Ends of the same sample share their time: one UPDATE per END_BATCH ids (padded by repeating the last id).
    this.markEnds = s.prepare<unknown[]>(
      `UPDATE connection_history SET ended_at = ? WHERE id IN (${Array<string>(END_BATCH).fill('?').join(', ')}) AND ended_at IS NULL`,
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
   * Records connection starts and runs retention when due. One transaction, joining the caller's. The in-memory
   * window changes at once, so that detectors in the same transaction see the starts; a rollback undoes it.
   * Returns the row id of the first event's row (the others follow in order: first + i), or 0 for no events; a
   * caller that keeps the id while the connection is open marks its end with `recordEnds`.
   */
  recordStarts(events: readonly ConnectionEvent[], now = Date.now()): number {
    return this.db.transaction(() => {
      // Ids are given explicitly (max + 1 onwards): the write lock is held, so nobody else can take them.
      const range = this.idRange.get();
      const first = (range?.hi ?? 0) + 1;
      this.insert(events, first);
      const mark = this.window.beginJournal();
      for (const e of events) {
        if (e.processKey === null) continue;
        const row = e.row;
        const ip = canonicalIp(row.destination.ip) ?? row.destination.ip;
        this.window.add(e.processKey, ip, row.destination.port, row.network.transport, e.ts, e.attribution, row);
      }
      this.window.advance(now);
      this.db.onRollback(() => this.window.rollbackTo(mark));
      this.db.afterCommit(() => this.window.endJournal());
      this.pruneIfDue(now, range?.lo ?? (events.length > 0 ? first : null), events.length > 0 ? first + events.length - 1 : (range?.hi ?? null));
      return events.length > 0 ? first : 0;
    });
  }

  private insert(events: readonly ConnectionEvent[], first: number): void {
    let done = 0;
    while (done < events.length) {
      const left = events.length - done;
      let n = INSERT_BATCH;
      while (n > left) n >>= 1;
      const { stmt, args } = this.insertOf(n);
      for (let k = 0; k < n; k++) {
        const e = events[done + k]!;
        const row = e.row;
        const o = k * 9;
        args[o] = first + done + k;
        args[o + 1] = e.processKey;
        args[o + 2] = canonicalIp(row.destination.ip) ?? row.destination.ip;
        args[o + 3] = row.destination.port;
        args[o + 4] = row.network.transport;
        args[o + 5] = row.process.pid;
        args[o + 6] = e.attribution;
        args[o + 7] = connectionIdOf(row);
        args[o + 8] = e.ts;
      }
      stmt.run(args);
      done += n;
    }
  }

  private insertOf(n: number): { stmt: Database.Statement<unknown[]>; args: unknown[] } {
    let hit = this.inserts.get(n);
    if (!hit) {
      const values = Array<string>(n).fill('(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
      hit = {
        stmt: this.db.sqlite.prepare<unknown[]>(
          `INSERT INTO connection_history (id, process_key, ip, port, transport, pid, attribution, conn_id, started_at) VALUES ${values}`,
        ),
        args: Array<unknown>(n * 9).fill(null),
      };
      this.inserts.set(n, hit);
    }
    return hit;
  }

  /**
   * Marks connections as ended, by the row id `recordStarts` gave their start (ids ≤ 0 are skipped); rows already
   * ended are left as they are. Ends are buffered and written together every `endFlushEveryMs` of sample time
   * (and by `flushEnds`, `query` and at close): an end updates a row written when the connection started, often
   * minutes ago on a page of its own, and many ends written at once share pages. Joins the caller's transaction.
   * Returns how many rows changed when this call wrote the buffer, else 0.
   */
  recordEnds(ended: ReadonlyArray<{ id: number; ts: number }>, now = Date.now()): number {
    for (const e of ended) if (e.id > 0) this.pendingEnds.push(e.id, e.ts);
    if (now - this.endsFlushedAt < this.endFlushEveryMs && now >= this.endsFlushedAt) return 0;
    return this.flushEnds(now);
  }

  /** Writes the buffered ends now (see recordEnds); returns how many rows changed. */
  flushEnds(now = Date.now()): number {
    const pending = this.pendingEnds;
    if (pending.length === 0) {
      this.endsFlushedAt = now;
      return 0;
    }
    const count = pending.length / 2;
    let changed = 0;
    this.db.transaction(() => {
      // By end time, then id: one UPDATE per END_BATCH ids of the same end time.
      const order = Array.from({ length: count }, (_, i) => i).sort((x, y) => pending[x * 2 + 1]! - pending[y * 2 + 1]! || pending[x * 2]! - pending[y * 2]!);
      const args = this.endArgs;
      let n = 0;
      let ts = Number.NaN;
      const write = (): void => {
        if (n === 0) return;
        for (let k = n; k < END_BATCH; k++) args[k + 1] = args[n];
        args[0] = ts;
        changed += this.markEnds.run(args).changes;
        n = 0;
      };
      for (const i of order) {
        const t = pending[i * 2 + 1]!;
        if (t !== ts || n === END_BATCH) {
          write();
          ts = t;
        }
        args[++n] = pending[i * 2]!;
      }
      write();
      // Once committed, what was written leaves the buffer (later ends may have joined it meanwhile).
      this.db.afterCommit(() => {
        this.pendingEnds.splice(0, count * 2);
        this.endsFlushedAt = now;
      });
    });
    return changed;
  }

  /** Ends waiting to be written. */
  pendingEndCount(): number {
    return this.pendingEnds.length / 2;
  }

  /** Flat [id, ts, id, ts, …]: no object per end. */
  private readonly pendingEnds: number[] = [];
  private endsFlushedAt = Number.NEGATIVE_INFINITY;

  private readonly endArgs: unknown[] = Array<unknown>(END_BATCH + 1).fill(null);

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
    this.flushEnds();
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

  private pruneIfDue(now: number, lo: number | null, hi: number | null): void {
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
