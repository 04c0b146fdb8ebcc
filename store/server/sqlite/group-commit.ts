// Group commit: the batches that arrive in one turn of the event loop (or up to MAX_GROUP_ITEMS findings) are
// committed in one transaction, and each caller's promise settles after it.
import { SockhuntError } from '../../../core/errors.js';
import { decodeBatch, type PreparedBatch } from '../batch.js';
import type { IngestResult } from '../contract.js';
import { mapSqliteError } from '../../sqlite/errors.js';
import type { SqliteContext } from './context.js';
import type { IngestOne } from './ingest.js';

/** A group commit this large is written at once rather than at the end of the event-loop turn. */
const MAX_GROUP_ITEMS = 5_000;

interface Pending {
  agentId: string;
  batch: PreparedBatch;
  now: number;
  resolve(r: IngestResult): void;
  reject(err: unknown): void;
}

export interface GroupCommit {
  ingestBatch(agentId: string, batch: PreparedBatch, now: number): Promise<IngestResult>;
  /** Commits what is waiting now (at close). */
  commitGroup(): void;
}

export function groupCommit(
  c: SqliteContext,
  deps: { hostNoOf(agentId: string): number; ingestOne: IngestOne; flushTouched(): void },
  onGroupCommit?: (info: { batches: number; findings: number }) => void,
): GroupCommit {
  let group: Pending[] = [];
  let groupItems = 0;
  let groupScheduled = false;

  /**
   * One transaction for every batch waiting. A failure there (disk full, I/O) fails them all: nothing of them
   * is kept and each agent resends; constraint failures cannot happen (every write is an upsert).
   */
  function commitGroup(): void {
    groupScheduled = false;
    const waiting = group;
    if (waiting.length === 0) return;
    group = [];
    if (!c.db.open) {
      groupItems = 0;
      const closed = new SockhuntError('SOCKHUNT_E_DB_WRITE', `${c.path}: the store is closed`);
      for (const batch of waiting) batch.reject(closed);
      return;
    }
    groupItems = 0;
    const ready: Array<{ batch: Pending; hostNo: number }> = [];
    for (const batch of waiting) {
      try {
        ready.push({ batch, hostNo: deps.hostNoOf(batch.agentId) });
      } catch (err) {
        batch.reject(mapSqliteError(err, 'reading a host', c.path));
      }
    }
    let results: IngestResult[];
    try {
      const size = c.fleetSize();
      results = c.tx(() => {
        const out = ready.map((r) => deps.ingestOne(r.hostNo, decodeBatch(r.batch.batch), r.batch.now, size));
        deps.flushTouched();
        return out;
      });
    } catch (err) {
      // Rolled back: what the caches learned in the transaction (destinations created, hosts on them) is undone too.
      c.touched.clear();
      c.dests.clear();
      c.triples.clear();
      for (const r of ready) r.batch.reject(err);
      return;
    }
    onGroupCommit?.({ batches: ready.length, findings: ready.reduce((n, r) => n + r.batch.batch.seqs.length, 0) });
    ready.forEach((r, i) => r.batch.resolve(results[i]!));
  }

  return {
    commitGroup,

    ingestBatch(agentId: string, batch: PreparedBatch, now: number): Promise<IngestResult> {
      return new Promise<IngestResult>((resolve, reject) => {
        group.push({ agentId, batch, now, resolve, reject });
        groupItems += batch.seqs.length;
        if (groupItems >= MAX_GROUP_ITEMS) commitGroup();
        else if (!groupScheduled) {
          groupScheduled = true;
          // Batches that arrive in the same turn of the event loop (many agents at once) share one commit.
          setImmediate(() => commitGroup());
        }
      });
    },
  };
}
