// Retention: findings, audit entries and stack-counting rows older than the retention, seq runs older than theirs.
import type { PruneResult, ServerStore } from '../contract.js';
import type { SqliteContext } from './context.js';

export function prunePart(c: SqliteContext): Pick<ServerStore, 'prune'> {
  const p = c.prepare;
  const s = {
    // Per host through findings_agent: no index of its own on last_seen (one B-tree less per finding).
    pruneFindings: p('DELETE FROM findings WHERE host_no IN (SELECT host_no FROM hosts) AND last_seen < ?'),
    pruneAudit: p('DELETE FROM audit WHERE ts < ?'),
    pruneSeqs: p<{ n: number }>('DELETE FROM seq_runs WHERE seen_at < ? RETURNING hi - lo + 1 AS n'),
    pruneTriples: p('DELETE FROM fleet_destinations WHERE last_seen < ?'),
  };

  return {
    async prune(now: number, retentionMs: number, seqRetentionMs: number): Promise<PruneResult> {
      const cutoff = now - retentionMs;
      const result = c.tx(() => ({
        findings: s.pruneFindings.run(cutoff).changes,
        audit: s.pruneAudit.run(cutoff).changes,
        seqs: (s.pruneSeqs.all(now - seqRetentionMs) as Array<{ n: number }>).reduce((sum, r) => sum + r.n, 0),
        destinations: s.pruneTriples.run(cutoff).changes,
      }));
      if (result.destinations > 0) {
        c.triples.clear();
        c.fleetChanged(true);
      }
      return result;
    },
  };
}
