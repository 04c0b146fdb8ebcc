// Triage: a finding's status, assignee and notes, changed with an audit entry that keeps what they were.
import type { AuditInput, FindingRecord, ServerStore, TriagePatch } from '../contract.js';
import type { WriteAudit } from './audit.js';
import type { SqliteContext } from './context.js';
import type { FindingRow, FindingsPart } from './findings.js';

export function triagePart(c: SqliteContext, findings: FindingsPart, writeAudit: WriteAudit): Pick<ServerStore, 'updateTriage'> {
  return {
    async updateTriage(eventId: string, patch: TriagePatch, now: number, audit: AuditInput): Promise<FindingRecord | null> {
      return c.tx(() => {
        const row = findings.rowById(eventId);
        if (!row) return null;
        const sets: string[] = [];
        const args: unknown[] = [];
        if (patch.status !== undefined) {
          sets.push('status = ?');
          args.push(patch.status);
        }
        if (patch.assignee !== undefined) {
          sets.push('assignee = ?');
          args.push(patch.assignee);
        }
        if (patch.notes !== undefined) {
          sets.push('notes = ?');
          args.push(patch.notes);
        }
        sets.push('updated_at = ?');
        args.push(now, eventId);
        c.db.prepare(`UPDATE findings SET ${sets.join(', ')} WHERE event_id = ?`).run(...args);
        writeAudit({ ...audit, detail: { ...audit.detail, before: { status: row.status, assignee: row.assignee, notes: row.notes } } }, now);
        return findings.findingOf(findings.rowById(eventId) as FindingRow);
      });
    },
  };
}
