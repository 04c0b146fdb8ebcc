// The audit log: entries written inside other parts' transactions, and paged by id.
import { SockhuntError } from '../../../core/errors.js';
import type { AuditInput, AuditRecord, Page, ServerStore } from '../contract.js';
import type { SqliteContext } from './context.js';

interface AuditRow {
  id: number;
  ts: number;
  who: string;
  action: string;
  target: string | null;
  detail: string;
}

function auditOf(row: AuditRow): AuditRecord {
  return { id: row.id, ts: row.ts, who: row.who, action: row.action, target: row.target, detail: JSON.parse(row.detail) as Record<string, unknown> };
}

/** Writes an entry in the caller's transaction. */
export type WriteAudit = (entry: AuditInput, now: number) => void;

export function auditPart(c: SqliteContext): Pick<ServerStore, 'audit' | 'listAudit'> & { writeAudit: WriteAudit } {
  const insertAudit = c.prepare('INSERT INTO audit (ts, who, action, target, detail) VALUES (?, ?, ?, ?, ?)');
  const writeAudit: WriteAudit = (entry, now) => {
    insertAudit.run(now, entry.who, entry.action, entry.target, JSON.stringify(entry.detail ?? {}));
  };
  return {
    writeAudit,

    async audit(entry: AuditInput, now: number): Promise<void> {
      c.tx(() => writeAudit(entry, now));
    },

    async listAudit(query: { limit: number; cursor: string | null; action?: string; since?: number }): Promise<Page<AuditRecord>> {
      const where: string[] = [];
      const args: unknown[] = [];
      if (query.cursor !== null) {
        const id = Number(query.cursor);
        if (!/^\d{1,15}$/.test(query.cursor)) throw new SockhuntError('SOCKHUNT_E_INPUT', 'invalid cursor (pass back the next_cursor of the previous page)');
        where.push('id < ?');
        args.push(id);
      }
      if (query.action !== undefined) {
        where.push('action = ?');
        args.push(query.action);
      }
      if (query.since !== undefined) {
        where.push('ts >= ?');
        args.push(query.since);
      }
      const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
      const rows = c.read('listing audit', () => c.db.prepare(sql).all(...args, query.limit + 1) as AuditRow[]);
      const items = rows.slice(0, query.limit);
      const last = items[items.length - 1];
      return { items: items.map(auditOf), nextCursor: rows.length > query.limit && last ? String(last.id) : null };
    },
  };
}
