// Schema-valid finding documents for the outbox and transport tests.
import { randomUUID } from 'node:crypto';
import { FindingDocSchema, type FindingDoc } from '../../../../core/finding.js';
import type { Risk } from '../../../../agent/detect/types.js';

export function findingDoc(spec: { eventId?: string; count?: number; risk?: Risk; hostId?: string; port?: number; pad?: number } = {}): FindingDoc {
  const t = new Date(Date.UTC(2026, 10, 28, 12, 0, spec.count ?? 1)).toISOString();
  const doc = {
    '@timestamp': t,
    event: { id: spec.eventId ?? randomUUID(), kind: 'alert', category: ['network'], type: ['connection'] },
    rule: { id: 'first-seen', name: 'First-seen destination', ruleset: 'sockhunt' },
    threat: { framework: 'MITRE ATT&CK', technique: [{ id: 'T1071', name: 'Application Layer Protocol' }] },
    hunt: {
      id: 'TH-HUNTIN-20261128-0001',
      detector: 'first-seen',
      risk: spec.risk ?? 'Low',
      confidence: 'Low',
      score: 0.4,
      recommended_action: 'Check it.',
      evidence: spec.pad ? [{ pad: 'x'.repeat(spec.pad) }] : [],
      first_seen: '2026-11-28T12:00:00.000Z',
      last_seen: t,
      count: spec.count ?? 1,
    },
    host: { name: 'test-host', id: spec.hostId ?? '6f1f2c9e-7c55-4d3a-9d8e-2b1f3a4c5d6e' },
    user: { name: null, id: null },
    process: { pid: 1, name: 'curl', executable: '/usr/bin/curl', command_line: 'curl', parent: { pid: null, name: null } },
    destination: { ip: '198.51.100.7', port: spec.port ?? 4444 },
    network: { transport: 'tcp', direction: 'egress' },
  };
  return FindingDocSchema.parse(doc);
}
