// The durable outbox: findings (new or updated) waiting for the server's ack. Store-and-forward:
//
// - `enqueue` runs inside the transaction that writes the finding (the outbox is the recorder's FindingSink: it
//   `put`s every finding it inserts or updates, in that transaction), so a finding is in the outbox exactly when
//   it is in the store.
// - Every entry gets the next per-agent sequence number (persisted, never reused). An update of a finding (same
//   event.id, new count / last seen) is a new entry with a new seq; the older entries of that event are deleted
//   (superseded): each entry carries the whole document and the server upserts by event.id, so only the newest
//   one matters. That holds even for an entry already sent and not yet acked: its ack then deletes nothing.
// - Bounded: over `maxRows` or `maxBytes`, the lowest risk goes first, then the oldest; `dropped()` counts them
//   (persisted, sent in heartbeats).
// - `ack` deletes; `reject` deletes what the server refused for good and counts it apart.
import type Database from 'better-sqlite3';
import type { AgentDb } from './db.js';
import type { FindingDoc, FindingSink } from '../../core/finding.js';
import { RISKS, type Risk } from '../../core/risk.js';
import { SockhuntError } from '../../core/errors.js';

export interface OutboxOptions {
  /** Most entries kept (default 100,000). */
  maxRows?: number;
  /** Most bytes of finding JSON kept (default 64 MiB). */
  maxBytes?: number;
  /** An entry larger than this is dropped at once (default 1 MiB; the wire frame limit is 4 MiB). */
  maxItemBytes?: number;
}

export const OUTBOX_DEFAULTS = { maxRows: 100_000, maxBytes: 64 * 1024 * 1024, maxItemBytes: 1024 * 1024 } as const;

export interface OutboxItem {
  seq: number;
  eventId: string;
  /** The finding document as JSON text (what goes on the wire as is). */
  json: string;
  bytes: number;
}

export interface EnqueueResult {
  seq: number;
  /** Older entries of the same event.id deleted by this one. */
  superseded: number;
  /** Entries dropped to stay within the caps (this one included, when it was the lowest). */
  dropped: number;
}

export interface OutboxCounters {
  pending: number;
  bytes: number;
  dropped: number;
  rejected: number;
  lastSeq: number;
}

interface StateRow {
  last_seq: number;
  rows: number;
  bytes: number;
  dropped: number;
  rejected: number;
}

const MAX_IN_LIST = 500;

function riskRank(risk: unknown): number {
  const i = RISKS.indexOf(risk as Risk);
  return i < 0 ? 0 : i;
}

function eventIdOf(doc: Record<string, unknown>): string {
  const event = doc.event as { id?: unknown } | undefined;
  if (!event || typeof event.id !== 'string' || event.id.length === 0) {
    throw new SockhuntError('SOCKHUNT_E_INPUT', 'outbox: a finding without event.id cannot be queued');
  }
  return event.id;
}

export class Outbox implements FindingSink {
  readonly maxRows: number;
  readonly maxBytes: number;
  readonly maxItemBytes: number;
  private readonly listeners = new Set<(dropped: number) => void>();
  private readonly s: {
    state: Database.Statement<[], StateRow>;
    nextSeq: Database.Statement<[]>;
    insert: Database.Statement<[number, string, number, number, string, number]>;
    olderOfEvent: Database.Statement<[string, number], { seq: number; bytes: number }>;
    victims: Database.Statement<[number], { seq: number; bytes: number }>;
    peek: Database.Statement<[number, number], { seq: number; event_id: string; doc: string; bytes: number }>;
    count: Database.Statement<[number, number]>;
    remove: Database.Statement<[number]>;
    addDropped: Database.Statement<[number]>;
    addRejected: Database.Statement<[number]>;
  };

  constructor(
    private readonly db: AgentDb,
    options: OutboxOptions = {},
  ) {
    this.maxRows = Math.max(1, Math.floor(options.maxRows ?? OUTBOX_DEFAULTS.maxRows));
    this.maxBytes = Math.max(1, Math.floor(options.maxBytes ?? OUTBOX_DEFAULTS.maxBytes));
    this.maxItemBytes = Math.max(1, Math.floor(options.maxItemBytes ?? OUTBOX_DEFAULTS.maxItemBytes));
    const q = db.sqlite;
    this.s = {
      state: q.prepare('SELECT last_seq, rows, bytes, dropped, rejected FROM outbox_state WHERE id = 1'),
      nextSeq: q.prepare('UPDATE outbox_state SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq').pluck(),
      insert: q.prepare('INSERT INTO outbox (seq, event_id, risk_rank, bytes, doc, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      olderOfEvent: q.prepare('SELECT seq, bytes FROM outbox WHERE event_id = ? AND seq < ?'),
      victims: q.prepare('SELECT seq, bytes FROM outbox ORDER BY risk_rank, seq LIMIT ?'),
      peek: q.prepare('SELECT seq, event_id, doc, bytes FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      count: q.prepare('UPDATE outbox_state SET rows = rows + ?, bytes = bytes + ? WHERE id = 1'),
      remove: q.prepare('DELETE FROM outbox WHERE seq = ?'),
      addDropped: q.prepare('UPDATE outbox_state SET dropped = dropped + ? WHERE id = 1'),
      addRejected: q.prepare('UPDATE outbox_state SET rejected = rejected + ? WHERE id = 1'),
    };
  }

  /** Called after a commit that queued entries, with the number dropped by that commit (usually 0). */
  onEnqueue(listener: (dropped: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Queues the finding document under the next sequence number. Joins the caller's transaction (call it inside
   * the one that writes the finding). Throws SOCKHUNT_E_INPUT for a document without event.id.
   */
  enqueue(doc: Record<string, unknown>, now = Date.now()): EnqueueResult {
    const eventId = eventIdOf(doc);
    const rank = riskRank((doc.hunt as { risk?: unknown } | undefined)?.risk);
    const json = JSON.stringify(doc);
    const bytes = Buffer.byteLength(json);
    return this.db.transaction(() => {
      const seq = this.s.nextSeq.get() as number;
      let superseded = 0;
      let dropped = 0;
      let removedBytes = 0;
      for (const old of this.s.olderOfEvent.all(eventId, seq)) {
        this.deleteSeq(old.seq);
        superseded++;
        removedBytes += old.bytes;
      }
      if (superseded > 0) this.s.count.run(-superseded, -removedBytes);
      if (bytes > this.maxItemBytes) {
        dropped = 1;
      } else {
        this.s.insert.run(seq, eventId, rank, bytes, json, now);
        this.s.count.run(1, bytes);
        dropped = this.enforceCaps();
      }
      if (dropped > 0) this.s.addDropped.run(dropped);
      this.db.afterCommit(() => {
        for (const l of this.listeners) l(dropped);
      });
      return { seq, superseded, dropped };
    });
  }

  /** FindingSink: queues a finding the recorder writes, in the transaction that writes it. */
  put(doc: FindingDoc, now: number): void {
    this.enqueue(doc, now);
  }

  /** Deletes the lowest-risk, then oldest, entries until both caps hold; returns how many. */
  private enforceCaps(): number {
    let { rows, bytes } = this.state();
    if (rows <= this.maxRows && bytes <= this.maxBytes) return 0;
    let dropped = 0;
    let freed = 0;
    while (rows > this.maxRows || bytes > this.maxBytes) {
      // Over the row cap: exactly the surplus; over the byte cap only: a few at a time.
      const batch = this.s.victims.all(rows > this.maxRows ? Math.min(1000, rows - this.maxRows) : 16);
      if (batch.length === 0) break;
      for (const v of batch) {
        if (rows <= this.maxRows && bytes <= this.maxBytes) break;
        this.deleteSeq(v.seq);
        rows--;
        bytes -= v.bytes;
        freed += v.bytes;
        dropped++;
      }
    }
    this.s.count.run(-dropped, -freed);
    return dropped;
  }

  private deleteSeq(seq: number): void {
    this.s.remove.run(seq);
  }

  /**
   * The oldest entries after `afterSeq`, in seq order: at most `maxItems`, and no more than `maxBytes` of JSON
   * (but always one, when there is one).
   */
  peekBatch(maxItems: number, maxBytes: number, afterSeq = 0): OutboxItem[] {
    const rows = this.s.peek.all(afterSeq, Math.max(1, Math.floor(maxItems)));
    const out: OutboxItem[] = [];
    let total = 0;
    for (const r of rows) {
      if (out.length > 0 && total + r.bytes > maxBytes) break;
      out.push({ seq: r.seq, eventId: r.event_id, json: r.doc, bytes: r.bytes });
      total += r.bytes;
    }
    return out;
  }

  /** Deletes the acked entries; returns how many were still there. */
  ack(seqs: readonly number[]): number {
    return this.remove(seqs, null);
  }

  /** Deletes entries the server refused for good (they would be refused again); counts them as rejected. */
  reject(seqs: readonly number[]): number {
    return this.remove(seqs, 'rejected');
  }

  private remove(seqs: readonly number[], counter: 'rejected' | null): number {
    if (seqs.length === 0) return 0;
    return this.db.transaction(() => {
      let n = 0;
      let freed = 0;
      for (let i = 0; i < seqs.length; i += MAX_IN_LIST) {
        const chunk = seqs.slice(i, i + MAX_IN_LIST);
        const rows = this.db.sqlite
          .prepare<number[], { bytes: number }>(`DELETE FROM outbox WHERE seq IN (${chunk.map(() => '?').join(',')}) RETURNING bytes`)
          .all(...chunk);
        n += rows.length;
        for (const r of rows) freed += r.bytes;
      }
      if (n > 0) {
        this.s.count.run(-n, -freed);
        if (counter) this.s.addRejected.run(n);
      }
      return n;
    });
  }

  private state(): StateRow {
    const row = this.s.state.get();
    if (!row) throw new SockhuntError('SOCKHUNT_E_DB_CORRUPT', `${this.db.path}: the outbox state row is missing`);
    return row;
  }

  pending(): number {
    return this.state().rows;
  }

  bytes(): number {
    return this.state().bytes;
  }

  dropped(): number {
    return this.state().dropped;
  }

  rejected(): number {
    return this.state().rejected;
  }

  counters(): OutboxCounters {
    const s = this.state();
    return { pending: s.rows, bytes: s.bytes, dropped: s.dropped, rejected: s.rejected, lastSeq: s.last_seq };
  }
}
