// Persisted findings and the hunt id sequence. A finding keeps its event id for life; repeats within the
// suppression window update its count and last_seen (the caller decides the window and the dedupe key).
import { newEventId } from '../../core/event-id.js';
import type { Transport } from '../../collectors/types.js';
import { RISKS, type Confidence, type Risk } from '../../core/risk.js';
import type { ProcessKey } from '../../core/process-key.js';
import { formatHuntId } from '../../core/finding.js';
import type { AgentDb } from './db.js';

export interface FindingRecord {
  eventId: string;
  huntId: string;
  detector: string;
  processKey: ProcessKey | null;
  destIp: string | null;
  destPort: number | null;
  transport: Transport | null;
  risk: Risk;
  confidence: Confidence;
  score: number;
  firstSeen: number;
  lastSeen: number;
  count: number;
  dedupeKey: string;
  updatedAt: number;
  /** The finding document (the ECS alert), stored as JSON text. */
  doc: Record<string, unknown>;
}

export type NewFinding = Omit<FindingRecord, 'eventId' | 'updatedAt'> & { eventId?: string; updatedAt?: number };

export interface FindingUpdate {
  count: number;
  lastSeen: number;
  doc: Record<string, unknown>;
  risk?: Risk;
  confidence?: Confidence;
  score?: number;
  updatedAt?: number;
}

interface FindingRow {
  event_id: string;
  hunt_id: string;
  detector: string;
  process_key: string | null;
  dest_ip: string | null;
  dest_port: number | null;
  transport: Transport | null;
  risk: Risk;
  confidence: Confidence;
  score: number;
  first_seen: number;
  last_seen: number;
  count: number;
  dedupe_key: string;
  updated_at: number;
  doc: string;
}

function fromRow(r: FindingRow): FindingRecord {
  return {
    eventId: r.event_id,
    huntId: r.hunt_id,
    detector: r.detector,
    processKey: r.process_key,
    destIp: r.dest_ip,
    destPort: r.dest_port,
    transport: r.transport,
    risk: r.risk,
    confidence: r.confidence,
    score: r.score,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    count: r.count,
    dedupeKey: r.dedupe_key,
    updatedAt: r.updated_at,
    doc: JSON.parse(r.doc) as Record<string, unknown>,
  };
}

export class FindingsStore {
  private readonly bumpSequence;
  private readonly insertStmt;
  private readonly updateStmt;
  private readonly findOpenStmt;
  private readonly getStmt;

  constructor(private readonly db: AgentDb) {
    const s = db.sqlite;
    this.bumpSequence = s
      .prepare<[string]>(
        `INSERT INTO hunt_sequence (day, seq) VALUES (?, 1)
         ON CONFLICT (day) DO UPDATE SET seq = seq + 1 RETURNING seq`,
      )
      .pluck();
    this.insertStmt = s.prepare(
      `INSERT INTO findings (event_id, hunt_id, detector, process_key, dest_ip, dest_port, transport, risk, confidence,
         score, first_seen, last_seen, count, dedupe_key, updated_at, doc)
       VALUES (@event_id, @hunt_id, @detector, @process_key, @dest_ip, @dest_port, @transport, @risk, @confidence,
         @score, @first_seen, @last_seen, @count, @dedupe_key, @updated_at, @doc)`,
    );
    this.updateStmt = s.prepare(
      `UPDATE findings SET count = @count, last_seen = @last_seen, doc = @doc, updated_at = @updated_at,
         risk = coalesce(@risk, risk), confidence = coalesce(@confidence, confidence), score = coalesce(@score, score)
       WHERE event_id = @event_id`,
    );
    this.findOpenStmt = s.prepare<[string, number], FindingRow>(
      'SELECT * FROM findings WHERE dedupe_key = ? AND last_seen >= ? ORDER BY last_seen DESC LIMIT 1',
    );
    this.getStmt = s.prepare<[string], FindingRow>('SELECT * FROM findings WHERE event_id = ?');
  }

  /** Mints the next hunt id of `date`'s UTC day. Atomic across processes sharing the database. */
  nextHuntId(date: Date = new Date()): string {
    const day = date.toISOString().slice(0, 10);
    const seq = this.db.transaction(() => this.bumpSequence.get(day) as number);
    return formatHuntId(date, seq);
  }

  /** The most recent finding with this dedupe key seen at or after `sinceMs`, or null. */
  findOpen(dedupeKey: string, sinceMs: number): FindingRecord | null {
    const row = this.findOpenStmt.get(dedupeKey, sinceMs);
    return row ? fromRow(row) : null;
  }

  /** Runs `fn` in one transaction with the store's writes (inside another, a savepoint: see AgentDb.transaction). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn);
  }

  /** Runs `hook` if the enclosing transaction rolls back (see AgentDb.onRollback). */
  onRollback(hook: () => void): void {
    this.db.onRollback(hook);
  }

  get(eventId: string): FindingRecord | null {
    const row = this.getStmt.get(eventId);
    return row ? fromRow(row) : null;
  }

  insert(finding: NewFinding): FindingRecord {
    const record: FindingRecord = {
      ...finding,
      eventId: finding.eventId ?? newEventId(finding.firstSeen),
      updatedAt: finding.updatedAt ?? finding.lastSeen,
    };
    this.db.transaction(() =>
      this.insertStmt.run({
        event_id: record.eventId,
        hunt_id: record.huntId,
        detector: record.detector,
        process_key: record.processKey,
        dest_ip: record.destIp,
        dest_port: record.destPort,
        transport: record.transport,
        risk: record.risk,
        confidence: record.confidence,
        score: record.score,
        first_seen: record.firstSeen,
        last_seen: record.lastSeen,
        count: record.count,
        dedupe_key: record.dedupeKey,
        updated_at: record.updatedAt,
        doc: JSON.stringify(record.doc),
      }),
    );
    return record;
  }

  /** Updates a finding's count, last seen and document (and risk/confidence/score when given); false when absent. */
  update(eventId: string, patch: FindingUpdate): boolean {
    const info = this.db.transaction(() =>
      this.updateStmt.run({
        event_id: eventId,
        count: patch.count,
        last_seen: patch.lastSeen,
        doc: JSON.stringify(patch.doc),
        updated_at: patch.updatedAt ?? patch.lastSeen,
        risk: patch.risk ?? null,
        confidence: patch.confidence ?? null,
        score: patch.score ?? null,
      }),
    );
    return info.changes > 0;
  }

  /** Findings last seen at or after `since`, at or above `minRisk`, newest first. */
  list(opts: { since?: number; minRisk?: Risk; limit?: number } = {}): FindingRecord[] {
    const risks = opts.minRisk ? RISKS.slice(RISKS.indexOf(opts.minRisk)) : RISKS;
    const sql = `SELECT * FROM findings WHERE last_seen >= ? AND risk IN (${risks.map(() => '?').join(', ')})
                 ORDER BY last_seen DESC, event_id LIMIT ?`;
    return this.db.sqlite
      .prepare<Array<string | number>, FindingRow>(sql)
      .all(opts.since ?? 0, ...risks, opts.limit ?? 1000)
      .map(fromRow);
  }
}
