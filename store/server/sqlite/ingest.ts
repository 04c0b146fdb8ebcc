// One agent's batch in the group's transaction: findings upserted (never over another host's), scored with their
// destination's modifier, stack-counting triples written at most hourly, and the acked seqs recorded as runs.
import { RISKS } from '../../../core/risk.js';
import type { PreparedFinding } from '../batch.js';
import type { IngestResult } from '../contract.js';
import { withModifier } from '../prevalence.js';
import { MAX_CACHE, type SqliteContext } from './context.js';
import type { FleetPart } from './fleet.js';
import type { SeqRuns } from './seqs.js';

/** A (destination, host, process) row's last_seen is rewritten at most this often. */
const TRIPLE_REFRESH_MS = 3_600_000;

export type IngestOne = (hostNo: number, items: readonly PreparedFinding[], now: number, size: number) => IngestResult;

export function ingestPart(c: SqliteContext, fleet: FleetPart, runs: SeqRuns): IngestOne {
  const p = c.prepare;
  const s = {
    pairProcesses: p<{ process: string; last_seen: number }>('SELECT process, last_seen FROM fleet_destinations WHERE dest_id = ? AND host_no = ?'),
    upsertTriple: p(
      `INSERT INTO fleet_destinations (dest_id, host_no, process, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (dest_id, host_no, process) DO UPDATE SET
         first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`,
    ),
    upsertFinding: p(
      `INSERT INTO findings (event_id, host_no, host_name, hunt_id, detector, techniques, risk_rank, endpoint_risk, score,
         endpoint_score, modifier, dest_id, doc, first_seen, last_seen, count, seq, received_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?)
       ON CONFLICT (event_id) DO UPDATE SET
         host_name = excluded.host_name, hunt_id = excluded.hunt_id, detector = excluded.detector,
         techniques = excluded.techniques, risk_rank = excluded.risk_rank, endpoint_risk = excluded.endpoint_risk,
         score = excluded.score, endpoint_score = excluded.endpoint_score, modifier = excluded.modifier,
         dest_id = excluded.dest_id, doc = excluded.doc, first_seen = min(findings.first_seen, excluded.first_seen),
         last_seen = excluded.last_seen, count = excluded.count, seq = excluded.seq, updated_at = excluded.updated_at
       WHERE findings.host_no = excluded.host_no
         AND (excluded.last_seen > findings.last_seen OR (excluded.last_seen = findings.last_seen AND excluded.count > findings.count))`,
    ),
    findingOwner: p<{ host_no: number }>('SELECT host_no FROM findings WHERE event_id = ?'),
  };

  return (hostNo, items, now, size) => {
    const result: IngestResult = { acked: [], rejected: [], stored: 0, duplicates: 0 };
    const seqs = runs.seqsSeen(hostNo, items);
    // Seqs of this batch acked (stored, or an older version of what is stored): recorded as runs at the end.
    const fresh: number[] = [];
    const inBatch = new Set<number>();
    for (const f of items) {
      if (seqs.seen(f.seq) || inBatch.has(f.seq)) {
        // Stored before: the agent resends a batch whose ack it lost.
        result.acked.push(f.seq);
        result.duplicates++;
        continue;
      }
      const { d, created } = fleet.destFor(f.destIp, f.destPort, f.transport, size);
      const tripleKey = `${d.id}|${hostNo}|${f.process}`;
      let written = c.triples.get(tripleKey);
      let newHost = created;
      if (written === undefined && !created) {
        const known = s.pairProcesses.all(d.id, hostNo) as Array<{ process: string; last_seen: number }>;
        written = known.find((k) => k.process === f.process)?.last_seen;
        newHost = known.length === 0;
      }
      // A destination created just now already counts this host.
      const hosts = created ? d.hosts : d.hosts + (newHost ? 1 : 0);
      const modifier = c.modifier(hosts, size);
      const scored = withModifier(f.score, f.risk, modifier);
      const changed = s.upsertFinding.run(
        f.eventId, hostNo, f.hostName, f.huntId, f.detector, f.techniques, RISKS.indexOf(scored.risk), f.risk, scored.score,
        f.score, modifier, d.id, f.doc, f.firstSeen, f.lastSeen, f.count, f.seq, now, now,
      ).changes;
      if (changed === 0) {
        if (created) fleet.touch(d, 0, 0);
        const owner = s.findingOwner.get(f.eventId) as { host_no: number } | undefined;
        if (owner && owner.host_no !== hostNo) {
          // An event id is global: one agent never overwrites another's finding. (Its seq is not recorded.)
          result.rejected.push({ seq: f.seq, code: 'SOCKHUNT_E_PROTO_IDENTITY', message: `event.id ${f.eventId} belongs to another host` });
        } else {
          // An older or identical version of what is stored.
          result.acked.push(f.seq);
          result.duplicates++;
          fresh.push(f.seq);
          inBatch.add(f.seq);
        }
        continue;
      }
      if (written === undefined || f.lastSeen - written > TRIPLE_REFRESH_MS) {
        s.upsertTriple.run(d.id, hostNo, f.process, f.firstSeen, f.lastSeen);
        if (c.triples.size >= MAX_CACHE) c.triples.clear();
        c.triples.set(tripleKey, Math.max(written ?? 0, f.lastSeen));
      }
      // One more host on this destination, or a modifier left from before the fleet changed size.
      if (!created && (newHost || modifier !== d.modifier)) fleet.touch(d, hosts, modifier);
      result.acked.push(f.seq);
      result.stored++;
      fresh.push(f.seq);
      inBatch.add(f.seq);
    }
    runs.recordSeqs(hostNo, fresh, seqs.before, now);
    return result;
  };
}
