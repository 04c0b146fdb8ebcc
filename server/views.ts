// What the API (and the NDJSON export) shows of stored records.
import type { FindingDoc } from '../core/finding.js';
import { findingFleet } from './fleet.js';
import type { AllowRuleRecord, AuditRecord, DestinationSummary, FindingRecord, HostSummary } from '../store/server/contract.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export interface FindingView extends FindingDoc {
  sockhunt: {
    agent_id: string;
    /** The hunt id with the host name: unique across the fleet. */
    display_id: string;
    status: string;
    assignee: string | null;
    notes: string | null;
    endpoint_score: number;
    seq: number;
    received_at: string | null;
    updated_at: string | null;
  };
}

/** The agent's document with the fleet re-scored risk and score, the agent's risk as `endpoint_risk`, and triage. */
export function findingView(f: FindingRecord): FindingView {
  return {
    ...f.doc,
    hunt: { ...f.doc.hunt, risk: f.risk, score: f.score, endpoint_risk: f.endpointRisk, fleet: findingFleet(f) },
    sockhunt: {
      agent_id: f.agentId,
      display_id: `${f.hostName}/${f.huntId}`,
      status: f.status,
      assignee: f.assignee,
      notes: f.notes,
      endpoint_score: f.endpointScore,
      seq: f.seq,
      received_at: iso(f.receivedAt),
      updated_at: iso(f.updatedAt),
    },
  };
}

export function hostView(h: HostSummary, online: boolean) {
  return {
    id: h.agentId,
    hostname: h.hostname,
    facts: h.facts,
    agent_version: h.agentVersion,
    online,
    revoked: h.revoked,
    revoked_at: iso(h.revokedAt),
    enrolled_at: iso(h.enrolledAt),
    last_seen: iso(h.lastSeen),
    outbox: { pending: h.outboxPending, dropped: h.outboxDropped },
    findings: h.findings,
  };
}

export function destinationView(d: DestinationSummary) {
  return {
    ip: d.ip,
    port: d.port,
    transport: d.transport,
    hosts: d.hosts,
    prevalence: Math.round(d.prevalence * 1000) / 1000,
    host_ids: d.hostIds,
    processes: d.processes,
    findings: d.findings,
    first_seen: iso(d.firstSeen),
    last_seen: iso(d.lastSeen),
  };
}

export function allowRuleView(r: AllowRuleRecord) {
  return {
    id: r.id,
    scope: r.agentId === null ? 'fleet' : 'host',
    host: r.agentId,
    process: r.process,
    destination: r.destination,
    port: r.port,
    transport: r.transport,
    comment: r.comment,
    finding_id: r.findingId,
    created_by: r.createdBy,
    created_at: iso(r.createdAt),
  };
}

export function auditView(a: AuditRecord) {
  return { id: a.id, ts: iso(a.ts), who: a.who, action: a.action, target: a.target, detail: a.detail };
}
