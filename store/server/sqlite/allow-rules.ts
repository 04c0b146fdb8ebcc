// Allow rules: fleet-wide (scope '*') or one host's, idempotent by their key; adding one may set a finding's status.
import type { AllowRuleWire } from '../../../core/protocol.js';
import type { AllowRuleInput, AllowRuleRecord, AuditInput, FindingStatus, ServerStore } from '../contract.js';
import type { WriteAudit } from './audit.js';
import type { SqliteContext } from './context.js';

const MAX_RULES_PER_AGENT = 10_000;

interface AllowRow {
  id: number;
  scope: string;
  process: string;
  destination: string;
  port: number;
  transport: '' | 'tcp' | 'udp';
  comment: string | null;
  finding_id: string | null;
  created_by: string;
  created_at: number;
}

function allowOf(row: AllowRow): AllowRuleRecord {
  return {
    id: row.id,
    agentId: row.scope === '*' ? null : row.scope,
    process: row.process,
    destination: row.destination,
    port: row.port === 0 ? null : row.port,
    transport: row.transport === '' ? null : row.transport,
    comment: row.comment,
    findingId: row.finding_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

export function allowRulesPart(c: SqliteContext, writeAudit: WriteAudit): Pick<ServerStore, 'addAllowRule' | 'deleteAllowRule' | 'listAllowRules' | 'allowRulesFor'> {
  const p = c.prepare;
  const s = {
    setStatus: p('UPDATE findings SET status = ?, updated_at = ? WHERE event_id = ?'),
    insertAllow: p(
      `INSERT INTO allow_rules (scope, process, destination, port, transport, comment, finding_id, created_by, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, process, destination, port, transport) DO NOTHING`,
    ),
    allowByKey: p<AllowRow>('SELECT * FROM allow_rules WHERE scope = ? AND process = ? AND destination = ? AND port = ? AND transport = ?'),
    allowById: p<AllowRow>('SELECT * FROM allow_rules WHERE id = ?'),
    deleteAllow: p('DELETE FROM allow_rules WHERE id = ?'),
    listAllow: p<AllowRow>('SELECT * FROM allow_rules ORDER BY id'),
    allowFor: p<AllowRow>(`SELECT * FROM allow_rules WHERE scope IN ('*', ?) ORDER BY id LIMIT ${MAX_RULES_PER_AGENT}`),
  };

  return {
    async addAllowRule(rule: AllowRuleInput, now: number, audit: AuditInput, finding?: { eventId: string; status: FindingStatus }): Promise<AllowRuleRecord> {
      return c.tx(() => {
        const scope = rule.agentId ?? '*';
        const port = rule.port ?? 0;
        const transport = rule.transport ?? '';
        s.insertAllow.run(scope, rule.process, rule.destination, port, transport, rule.comment, rule.findingId, rule.createdBy, now);
        const stored = s.allowByKey.get(scope, rule.process, rule.destination, port, transport) as AllowRow;
        if (finding) s.setStatus.run(finding.status, now, finding.eventId);
        writeAudit({ ...audit, detail: { ...audit.detail, rule_id: stored.id } }, now);
        return allowOf(stored);
      });
    },

    async deleteAllowRule(id: number, audit: AuditInput): Promise<AllowRuleRecord | null> {
      return c.tx(() => {
        const row = s.allowById.get(id) as AllowRow | undefined;
        if (!row) return null;
        s.deleteAllow.run(id);
        writeAudit(audit, Date.now());
        return allowOf(row);
      });
    },

    async listAllowRules(): Promise<AllowRuleRecord[]> {
      return c.read('listing allow rules', () => (s.listAllow.all() as AllowRow[]).map(allowOf));
    },

    async allowRulesFor(agentId: string): Promise<AllowRuleWire[]> {
      const rows = c.read('listing allow rules', () => s.allowFor.all(agentId) as AllowRow[]);
      return rows.map((r) => ({
        process: r.process,
        destination: r.destination,
        port: r.port === 0 ? null : r.port,
        transport: r.transport === '' ? null : r.transport,
        comment: r.comment,
      }));
    },
  };
}
