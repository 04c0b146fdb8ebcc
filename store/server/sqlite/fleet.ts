// Fleet counts and prevalence: destinations with their host counts and applied modifiers, ingest's changes to them
// (written once per group), the re-scoring pass after the fleet or its policy changed, and the destinations view.
import { RISKS, RISK_BANDS } from '../../../core/risk.js';
import type { DestinationSummary, PrevalenceRule, ServerStore } from '../contract.js';
import { MAX_CACHE, type DestState, type SqliteContext } from './context.js';

/** The banding of core/risk.ts (RISK_BANDS) as SQL over a score expression. */
function riskRankSql(score: string): string {
  const whens = RISK_BANDS.filter((b) => b.min > 0).map((b) => `WHEN ${score} >= ${b.min} THEN ${RISKS.indexOf(b.risk)}`);
  return `CASE ${whens.join(' ')} ELSE ${RISKS.indexOf('Low')} END`;
}

/** SQL twin of withModifier (store/server/prevalence.ts). */
const ADJUSTED = 'round(min(1.0, max(0.0, endpoint_score + @m)), 3)';
const ENDPOINT_RANK = `CASE endpoint_risk ${RISKS.map((r, i) => `WHEN '${r}' THEN ${i}`).join(' ')} END`;

export interface FleetPart extends Pick<ServerStore, 'refreshFleet' | 'setPrevalenceRules' | 'listDestinations'> {
  /**
   * The destination's state; a destination seen for the first time is created with this host on it
   * (`created`), which saves the statements a known destination needs.
   */
  destFor(ip: string, port: number, transport: string, size: number): { d: DestState; created: boolean };
  /**
   * Ingest's change of a destination's host count or modifier: kept in memory at once (the group's later findings
   * are scored with it) and written once per group by flushTouched, with the modifier its findings had before.
   */
  touch(d: DestState, hosts: number, modifier: number): void;
  /** Writes the destinations the group touched; those whose modifier moved have their findings re-scored. */
  flushTouched(): void;
}

export function fleetPart(c: SqliteContext): FleetPart {
  const p = c.prepare;
  const s = {
    destByKey: p<{ dest_id: number; hosts: number; modifier: number }>('SELECT dest_id, hosts, modifier FROM destinations WHERE ip = ? AND port = ? AND transport = ?'),
    insertDest: p<{ dest_id: number }>(
      'INSERT INTO destinations (ip, port, transport, hosts, modifier) VALUES (?, ?, ?, ?, ?) ON CONFLICT (ip, port, transport) DO NOTHING RETURNING dest_id',
    ),
    setDest: p('UPDATE destinations SET hosts = ?, modifier = ? WHERE dest_id = ?'),
    destHostCount: p<{ n: number }>(
      `SELECT count(DISTINCT f.host_no) AS n FROM fleet_destinations f JOIN hosts h ON h.host_no = f.host_no AND h.revoked = 0
       WHERE f.dest_id = ?`,
    ),
    // Set-based: a destination's findings take its new modifier in one statement.
    rescoreDest: p(
      `UPDATE findings SET modifier = @m,
         score = CASE WHEN @m = 0 THEN endpoint_score ELSE ${ADJUSTED} END,
         risk_rank = CASE WHEN @m = 0 THEN ${ENDPOINT_RANK} ELSE ${riskRankSql(ADJUSTED)} END
       WHERE dest_id = @d AND modifier <> @m`,
    ),
    destsChunk: p<{ dest_id: number; ip: string; port: number; transport: string; hosts: number; modifier: number }>(
      'SELECT dest_id, ip, port, transport, hosts, modifier FROM destinations WHERE dest_id > ? ORDER BY dest_id LIMIT ?',
    ),
  };

  function flushTouched(): void {
    for (const [d, before] of c.touched) {
      if (d.modifier !== before) s.rescoreDest.run({ m: d.modifier, d: d.id });
      s.setDest.run(d.hosts, d.modifier, d.id);
    }
    c.touched.clear();
  }

  /** Gives a destination's findings a new modifier (only when it changed: usually a threshold was crossed). */
  function applyModifier(d: DestState, hosts: number, modifier: number): number {
    let updated = 0;
    if (modifier !== d.modifier) updated = s.rescoreDest.run({ m: modifier, d: d.id }).changes;
    if (hosts !== d.hosts || modifier !== d.modifier) s.setDest.run(hosts, modifier, d.id);
    d.hosts = hosts;
    d.modifier = modifier;
    return updated;
  }

  return {
    flushTouched,

    destFor(ip: string, port: number, transport: string, size: number): { d: DestState; created: boolean } {
      const key = `${ip}|${port}|${transport}`;
      let d = c.dests.get(key);
      if (d) return { d, created: false };
      let created = false;
      const modifier = c.modifier(1, size);
      const inserted = s.insertDest.get(ip, port, transport, 1, modifier) as { dest_id: number } | undefined;
      if (inserted) {
        d = { id: inserted.dest_id, hosts: 1, modifier };
        created = true;
      } else {
        const row = s.destByKey.get(ip, port, transport) as { dest_id: number; hosts: number; modifier: number };
        d = { id: row.dest_id, hosts: row.hosts, modifier: row.modifier };
      }
      if (c.dests.size >= MAX_CACHE) {
        // (in a group's transaction: what it changed is written first, or a re-read would see the old counts)
        flushTouched();
        c.dests.clear();
      }
      c.dests.set(key, d);
      return { d, created };
    },

    touch(d: DestState, hosts: number, modifier: number): void {
      if (hosts === d.hosts && modifier === d.modifier) return;
      if (!c.touched.has(d)) c.touched.set(d, d.modifier);
      d.hosts = hosts;
      d.modifier = modifier;
    },

    async setPrevalenceRules(rules: readonly PrevalenceRule[]): Promise<void> {
      if (JSON.stringify(rules) === JSON.stringify(c.rules)) return;
      c.rules = rules.map((r) => ({ ...r }));
      c.modifiers.clear();
      c.fleetChanged(false);
    },

    async refreshFleet(limit: number): Promise<{ updated: number; more: boolean }> {
      if (c.fullPass === null) return { updated: 0, more: false };
      return c.tx(() => {
        const size = c.fleetSize();
        const rows = s.destsChunk.all(c.fullPass, limit) as Array<{ dest_id: number; ip: string; port: number; transport: string; hosts: number; modifier: number }>;
        let updated = 0;
        for (const r of rows) {
          const hosts = c.recount ? (s.destHostCount.get(r.dest_id) as { n: number }).n : r.hosts;
          const key = `${r.ip}|${r.port}|${r.transport}`;
          const d = c.dests.get(key) ?? { id: r.dest_id, hosts: r.hosts, modifier: r.modifier };
          updated += applyModifier(d, hosts, hosts === 0 ? 0 : c.modifier(hosts, size));
        }
        const last = rows[rows.length - 1];
        c.fullPass = rows.length < limit || !last ? null : last.dest_id;
        if (c.fullPass === null) c.recount = false;
        return { updated, more: c.fullPass !== null };
      });
    },

    async listDestinations(query: { maxHosts?: number; limit: number }): Promise<DestinationSummary[]> {
      const size = c.fleetSize();
      const rows = c.read(
        'listing destinations',
        () =>
          c.db
            .prepare(
              `SELECT d.ip, d.port, d.transport, d.hosts,
                 (SELECT json_group_array(DISTINCT h.agent_id) FROM fleet_destinations x JOIN hosts h ON h.host_no = x.host_no
                  WHERE x.dest_id = d.dest_id) AS host_ids,
                 (SELECT json_group_array(DISTINCT x.process) FROM fleet_destinations x WHERE x.dest_id = d.dest_id) AS processes,
                 (SELECT min(x.first_seen) FROM fleet_destinations x WHERE x.dest_id = d.dest_id) AS first_seen,
                 (SELECT max(x.last_seen) FROM fleet_destinations x WHERE x.dest_id = d.dest_id) AS last_seen,
                 (SELECT count(*) FROM findings f WHERE f.dest_id = d.dest_id) AS findings
               FROM destinations d WHERE d.hosts > 0 ${query.maxHosts !== undefined ? 'AND d.hosts <= ?' : ''}
               ORDER BY d.hosts ASC, d.dest_id DESC LIMIT ?`,
            )
            .all(...(query.maxHosts !== undefined ? [query.maxHosts] : []), query.limit) as Array<{
            ip: string;
            port: number;
            transport: 'tcp' | 'udp';
            hosts: number;
            host_ids: string;
            processes: string;
            findings: number;
            first_seen: number;
            last_seen: number;
          }>,
      );
      return rows.map((r) => ({
        ip: r.ip,
        port: r.port,
        transport: r.transport,
        hosts: r.hosts,
        prevalence: Math.min(1, r.hosts / Math.max(size, 1)),
        hostIds: (JSON.parse(r.host_ids) as string[]).slice(0, 100),
        processes: (JSON.parse(r.processes) as string[]).filter((p) => p !== '').slice(0, 100),
        findings: r.findings,
        firstSeen: r.first_seen,
        lastSeen: r.last_seen,
      }));
    },
  };
}
