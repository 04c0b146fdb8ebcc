// Settings and hosts: enrolment, connections, last-seen and outbox figures, revocation, and host numbers (the
// compact key of the other tables).
import { SockhuntError } from '../../../core/errors.js';
import type { HostFactsWire } from '../../../core/protocol.js';
import type { AuditInput, HostRecord, HostSummary, ServerStore } from '../contract.js';
import type { WriteAudit } from './audit.js';
import type { SqliteContext } from './context.js';

interface HostRow {
  host_no: number;
  agent_id: string;
  hostname: string;
  facts: string;
  agent_version: string;
  token_hash: string;
  revoked: number;
  revoked_at: number | null;
  enrolled_at: number;
  last_seen: number;
  online: number;
  outbox_pending: number | null;
  outbox_dropped: number | null;
}

function hostOf(row: HostRow): HostRecord {
  return {
    agentId: row.agent_id,
    hostname: row.hostname,
    facts: JSON.parse(row.facts) as HostFactsWire,
    agentVersion: row.agent_version,
    tokenHash: row.token_hash,
    revoked: row.revoked === 1,
    revokedAt: row.revoked_at,
    enrolledAt: row.enrolled_at,
    lastSeen: row.last_seen,
    online: row.online === 1,
    outboxPending: row.outbox_pending,
    outboxDropped: row.outbox_dropped,
  };
}

export type HostMethods = Pick<
  ServerStore,
  | 'getSetting'
  | 'setSetting'
  | 'findHost'
  | 'findHostByTokenHash'
  | 'enrollHost'
  | 'recordConnect'
  | 'recordDisconnect'
  | 'touchHosts'
  | 'revokeHost'
  | 'listHosts'
  | 'activeHostCount'
  | 'markAllOffline'
>;

export function hostsPart(c: SqliteContext, writeAudit: WriteAudit): HostMethods & { hostNoOf(agentId: string): number } {
  const p = c.prepare;
  const s = {
    getSetting: p<{ value: string }>('SELECT value FROM settings WHERE key = ?'),
    setSetting: p('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    hostById: p<HostRow>('SELECT * FROM hosts WHERE agent_id = ?'),
    hostByToken: p<HostRow>('SELECT * FROM hosts WHERE token_hash = ?'),
    insertHost: p(
      `INSERT INTO hosts (agent_id, hostname, facts, agent_version, token_hash, enrolled_at, last_seen, online)
       VALUES (?, ?, ?, ?, ?, ?, ?, 1)`,
    ),
    connectHost: p('UPDATE hosts SET hostname = ?, facts = ?, agent_version = ?, last_seen = ?, online = 1 WHERE agent_id = ?'),
    disconnectHost: p('UPDATE hosts SET online = 0, last_seen = max(last_seen, ?) WHERE agent_id = ?'),
    touchHost: p(
      `UPDATE hosts SET last_seen = max(last_seen, ?), outbox_pending = coalesce(?, outbox_pending),
       outbox_dropped = coalesce(?, outbox_dropped) WHERE agent_id = ?`,
    ),
    revokeHost: p('UPDATE hosts SET revoked = 1, revoked_at = ?, online = 0 WHERE agent_id = ? AND revoked = 0'),
    listHosts: p<HostRow & { findings: number }>(
      'SELECT h.*, (SELECT count(*) FROM findings f WHERE f.host_no = h.host_no) AS findings FROM hosts h ORDER BY h.hostname, h.agent_id',
    ),
    hostNo: p<{ host_no: number }>('SELECT host_no FROM hosts WHERE agent_id = ?'),
    allOffline: p('UPDATE hosts SET online = 0 WHERE online = 1'),
  };

  return {
    async getSetting(key: string): Promise<string | null> {
      return c.read('reading a setting', () => s.getSetting.get(key)?.value ?? null);
    },

    async setSetting(key: string, value: string): Promise<void> {
      c.tx(() => s.setSetting.run(key, value));
    },

    async findHost(agentId: string): Promise<HostRecord | null> {
      const row = c.read('reading a host', () => s.hostById.get(agentId) as HostRow | undefined);
      return row ? hostOf(row) : null;
    },

    async findHostByTokenHash(tokenHash: string): Promise<HostRecord | null> {
      const row = c.read('reading a host', () => s.hostByToken.get(tokenHash) as HostRow | undefined);
      return row ? hostOf(row) : null;
    },

    async enrollHost(input: { agentId: string; facts: HostFactsWire; agentVersion: string; tokenHash: string; now: number }, audit: AuditInput): Promise<void> {
      c.tx(() => {
        s.insertHost.run(input.agentId, input.facts.hostname, JSON.stringify(input.facts), input.agentVersion, input.tokenHash, input.now, input.now);
        writeAudit(audit, input.now);
      });
      c.fleetChanged(false);
    },

    async recordConnect(agentId: string, facts: HostFactsWire, agentVersion: string, now: number): Promise<void> {
      c.tx(() => s.connectHost.run(facts.hostname, JSON.stringify(facts), agentVersion, now, agentId));
    },

    async recordDisconnect(agentId: string, now: number): Promise<void> {
      c.tx(() => s.disconnectHost.run(now, agentId));
    },

    async touchHosts(entries: ReadonlyArray<{ agentId: string; lastSeen: number; pending?: number; dropped?: number }>): Promise<void> {
      if (entries.length === 0) return;
      c.tx(() => {
        for (const e of entries) s.touchHost.run(e.lastSeen, e.pending ?? null, e.dropped ?? null, e.agentId);
      });
    },

    async revokeHost(agentId: string, now: number, audit: AuditInput): Promise<boolean> {
      const changed = c.tx(() => {
        if (s.hostById.get(agentId) === undefined) return false;
        s.revokeHost.run(now, agentId);
        writeAudit(audit, now);
        return true;
      });
      if (changed) c.fleetChanged(true);
      return changed;
    },

    async listHosts(): Promise<HostSummary[]> {
      const rows = c.read('listing hosts', () => s.listHosts.all() as Array<HostRow & { findings: number }>);
      return rows.map((r) => {
        const { tokenHash: _t, ...host } = hostOf(r);
        return { ...host, findings: r.findings };
      });
    },

    async activeHostCount(): Promise<number> {
      return c.fleetSize();
    },

    async markAllOffline(_now: number): Promise<void> {
      c.tx(() => s.allOffline.run());
    },

    hostNoOf(agentId: string): number {
      let n = c.hostNos.get(agentId);
      if (n === undefined) {
        const row = s.hostNo.get(agentId) as { host_no: number } | undefined;
        if (!row) throw new SockhuntError('SOCKHUNT_E_INPUT', `findings from an agent that is not enrolled: ${agentId}`);
        n = row.host_no;
        c.hostNos.set(agentId, n);
      }
      return n;
    },
  };
}
