// Seq runs: which of an agent's seqs are stored, kept as runs of consecutive seqs (store/server/migrations.ts V2).
import type { PreparedFinding } from '../batch.js';
import type { SqliteContext } from './context.js';

/** A run of seqs is continued by the next ones for this long after it was last continued; then a new run starts. */
const SEQ_RUN_MS = 3_600_000;
/** A batch whose seqs spread wider than this many times its size looks its seqs up one by one. */
const SEQ_SPREAD = 4;

/** A run of consecutive seqs an agent sent, all stored. */
export interface SeqRun {
  lo: number;
  hi: number;
  seen_at: number;
}

export interface SeqRuns {
  /**
   * Which of a batch's seqs were stored before (by their runs), and the run just before its first seq (one of this
   * batch's runs may continue it). A batch of consecutive seqs — what agents send — is one statement.
   */
  seqsSeen(hostNo: number, items: readonly PreparedFinding[]): { seen(seq: number): boolean; before: SeqRun | undefined };
  /** Records a batch's acked seqs as runs, the first continuing `before` when it follows it and is recent. */
  recordSeqs(hostNo: number, seqs: number[], before: SeqRun | undefined, now: number): void;
}

export function seqRuns(c: SqliteContext): SeqRuns {
  const p = c.prepare;
  const s = {
    // The run holding `lo` (or the last one before it: a run of this batch may continue it), then those starting
    // up to `hi`.
    seqRuns: p<SeqRun>(
      `SELECT * FROM (SELECT lo, hi, seen_at FROM seq_runs WHERE host_no = @h AND lo <= @lo ORDER BY lo DESC LIMIT 1)
       UNION ALL SELECT lo, hi, seen_at FROM seq_runs WHERE host_no = @h AND lo > @lo AND lo <= @hi`,
    ),
    seqRunAt: p<SeqRun>('SELECT lo, hi, seen_at FROM seq_runs WHERE host_no = ? AND lo <= ? ORDER BY lo DESC LIMIT 1'),
    insertSeqRun: p(
      `INSERT INTO seq_runs (host_no, lo, hi, seen_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (host_no, lo) DO UPDATE SET hi = max(hi, excluded.hi), seen_at = max(seen_at, excluded.seen_at)`,
    ),
    extendSeqRun: p('UPDATE seq_runs SET hi = ?, seen_at = ? WHERE host_no = ? AND lo = ?'),
  };

  return {
    seqsSeen(hostNo: number, items: readonly PreparedFinding[]): { seen(seq: number): boolean; before: SeqRun | undefined } {
      let lo = Number.MAX_SAFE_INTEGER;
      let hi = 0;
      for (const f of items) {
        if (f.seq < lo) lo = f.seq;
        if (f.seq > hi) hi = f.seq;
      }
      if (hi - lo < SEQ_SPREAD * items.length) {
        const runs = s.seqRuns.all({ h: hostNo, lo, hi }) as SeqRun[];
        let before: SeqRun | undefined;
        for (const r of runs) if (r.lo <= lo && (!before || r.lo > before.lo)) before = r;
        return { seen: (seq) => runs.some((r) => seq >= r.lo && seq <= r.hi), before };
      }
      // Seqs far apart: each looked up on its own (the runs between them could be many).
      const at = (seq: number): SeqRun | undefined => s.seqRunAt.get(hostNo, seq) as SeqRun | undefined;
      return {
        seen: (seq) => {
          const r = at(seq);
          return r !== undefined && seq <= r.hi;
        },
        before: at(lo),
      };
    },

    recordSeqs(hostNo: number, seqs: number[], before: SeqRun | undefined, now: number): void {
      if (seqs.length === 0) return;
      seqs.sort((a, b) => a - b);
      let lo = seqs[0]!;
      let prev = lo;
      const write = (a: number, b: number): void => {
        if (before && before.hi + 1 === a && before.seen_at >= now - SEQ_RUN_MS) {
          s.extendSeqRun.run(b, Math.max(now, before.seen_at), hostNo, before.lo);
          before.hi = b;
        } else {
          s.insertSeqRun.run(hostNo, a, b, now);
        }
      };
      for (let i = 1; i < seqs.length; i++) {
        const seq = seqs[i]!;
        if (seq === prev + 1) {
          prev = seq;
          continue;
        }
        write(lo, prev);
        lo = prev = seq;
      }
      write(lo, prev);
    },
  };
}
