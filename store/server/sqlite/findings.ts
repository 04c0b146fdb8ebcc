// Reading findings: rows as FindingRecord, and the filtered, keyset-paged list (opaque cursors).
import { z } from 'zod';
import { SockhuntError } from '../../../core/errors.js';
import { RISKS, type Risk } from '../../../core/risk.js';
import type { FindingDoc } from '../../../core/finding.js';
import type { FindingFilter, FindingRecord, FindingSort, FindingStatus, Page, ServerStore } from '../contract.js';
import type { SqliteContext } from './context.js';

export interface FindingRow {
  event_id: string;
  host_no: number;
  /** Joined from hosts. */
  agent_id: string;
  host_name: string;
  hunt_id: string;
  detector: string;
  techniques: string;
  risk_rank: number;
  endpoint_risk: Risk;
  score: number;
  endpoint_score: number;
  modifier: number;
  dest_id: number;
  /** Joined from destinations. */
  dest_hosts: number;
  status: FindingStatus;
  assignee: string | null;
  notes: string | null;
  doc: string;
  first_seen: number;
  last_seen: number;
  count: number;
  seq: number;
  received_at: number;
  updated_at: number;
}

const RiskCursor = z.tuple([z.int(), z.number(), z.int(), z.string()]);
const RecentCursor = z.tuple([z.int(), z.string()]);
/** Findings with their agent id and their destination's host count (for the fleet view). */
const FINDING_SELECT =
  'SELECT f.*, h.agent_id, d.hosts AS dest_hosts FROM findings f JOIN hosts h ON h.host_no = f.host_no JOIN destinations d ON d.dest_id = f.dest_id';

function encodeCursor(value: unknown[]): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function decodeCursor<T>(text: string, schema: z.ZodType<T>): T {
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    if (parsed.success) return parsed.data;
  } catch {
    // falls through to the error below
  }
  throw new SockhuntError('SOCKHUNT_E_INPUT', 'invalid cursor (pass back the next_cursor of the previous page)');
}

export interface FindingsPart extends Pick<ServerStore, 'listFindings' | 'getFinding'> {
  /** The finding's row (in the caller's transaction, when in one). */
  rowById(eventId: string): FindingRow | undefined;
  findingOf(row: FindingRow): FindingRecord;
}

export function findingsPart(c: SqliteContext): FindingsPart {
  const findingById = c.prepare<FindingRow>(`${FINDING_SELECT} WHERE f.event_id = ?`);

  function findingOf(row: FindingRow): FindingRecord {
    return {
      eventId: row.event_id,
      agentId: row.agent_id,
      hostName: row.host_name,
      huntId: row.hunt_id,
      detector: row.detector,
      techniques: row.techniques.split(',').filter((t) => t !== ''),
      risk: RISKS[row.risk_rank] ?? 'Low',
      endpointRisk: row.endpoint_risk,
      score: row.score,
      endpointScore: row.endpoint_score,
      prevalence: { hosts: row.dest_hosts, fleetSize: c.fleetSize(), modifier: row.modifier },
      status: row.status,
      assignee: row.assignee,
      notes: row.notes,
      doc: JSON.parse(row.doc) as FindingDoc,
      firstSeen: row.first_seen,
      lastSeen: row.last_seen,
      count: row.count,
      seq: row.seq,
      receivedAt: row.received_at,
      updatedAt: row.updated_at,
    };
  }

  return {
    findingOf,

    rowById(eventId: string): FindingRow | undefined {
      return findingById.get(eventId) as FindingRow | undefined;
    },

    async listFindings(filter: FindingFilter, page: { limit: number; cursor: string | null; sort: FindingSort }): Promise<Page<FindingRecord>> {
      const where: string[] = [];
      const args: unknown[] = [];
      if (filter.host !== undefined) {
        where.push('(h.agent_id = ? OR f.host_name = ?)');
        args.push(filter.host, filter.host);
      }
      if (filter.risk !== undefined) {
        where.push('f.risk_rank >= ?');
        args.push(RISKS.indexOf(filter.risk));
      }
      if (filter.technique !== undefined) {
        where.push("(instr(f.techniques, ',' || ? || ',') > 0 OR instr(f.techniques, ',' || ? || '.') > 0)");
        args.push(filter.technique, filter.technique);
      }
      if (filter.detector !== undefined) {
        where.push('f.detector = ?');
        args.push(filter.detector);
      }
      if (filter.status !== undefined) {
        where.push('f.status = ?');
        args.push(filter.status);
      }
      if (filter.since !== undefined) {
        where.push('f.last_seen >= ?');
        args.push(filter.since);
      }
      let order: string;
      if (page.sort === 'risk') {
        // Risk first, then rarity in the fleet (rare destinations carry a positive modifier), then recency.
        order = 'f.risk_rank DESC, f.modifier DESC, f.last_seen DESC, f.event_id ASC';
        if (page.cursor !== null) {
          const [rank, mod, last, id] = decodeCursor(page.cursor, RiskCursor);
          where.push(
            '(f.risk_rank < ? OR (f.risk_rank = ? AND (f.modifier < ? OR (f.modifier = ? AND (f.last_seen < ? OR (f.last_seen = ? AND f.event_id > ?))))))',
          );
          args.push(rank, rank, mod, mod, last, last, id);
        }
      } else {
        order = 'f.last_seen DESC, f.event_id ASC';
        if (page.cursor !== null) {
          const [last, id] = decodeCursor(page.cursor, RecentCursor);
          where.push('(f.last_seen < ? OR (f.last_seen = ? AND f.event_id > ?))');
          args.push(last, last, id);
        }
      }
      const sql = `${FINDING_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ?`;
      const rows = c.read('listing findings', () => c.db.prepare(sql).all(...args, page.limit + 1) as FindingRow[]);
      const more = rows.length > page.limit;
      const items = rows.slice(0, page.limit);
      const last = items[items.length - 1];
      let nextCursor: string | null = null;
      if (more && last) {
        nextCursor = page.sort === 'risk' ? encodeCursor([last.risk_rank, last.modifier, last.last_seen, last.event_id]) : encodeCursor([last.last_seen, last.event_id]);
      }
      return { items: items.map((r) => findingOf(r)), nextCursor };
    },

    async getFinding(eventId: string): Promise<FindingRecord | null> {
      const row = c.read('reading a finding', () => findingById.get(eventId) as FindingRow | undefined);
      return row ? findingOf(row) : null;
    },
  };
}
