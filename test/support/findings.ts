// Finding documents (core/finding.ts FindingDoc) as an agent sends them: one builder, `findingDocument`, and two sets
// of defaults: `finding` (the server tests': a Medium first-seen of curl to 203.0.113.10:443 from agent spec.agentId)
// and `findingDoc` (the agent's outbox and transport tests': a Low one to 198.51.100.7:4444, schema-checked).
import { randomUUID } from 'node:crypto';
import { FindingDocSchema, type FindingDoc } from '../../core/finding.js';
import type { Confidence, Risk } from '../../agent/detect/types.js';

/** Every field of a document the tests vary; the rest is fixed (a first-seen rule, ATT&CK T1071-style technique). */
export interface FindingFields {
  eventId: string;
  huntId: string;
  detector: FindingDoc['hunt']['detector'];
  /** rule.author, where given. */
  ruleAuthor?: string;
  technique: string;
  risk: Risk;
  confidence: Confidence;
  score: number;
  recommendedAction: string;
  evidence: Array<Record<string, unknown>>;
  firstSeen: string;
  lastSeen: string;
  count: number;
  hostName: string;
  hostId: string;
  user: FindingDoc['user'];
  process: FindingDoc['process'];
  ip: string;
  port: number;
  transport: 'tcp' | 'udp';
}

export function findingDocument(f: FindingFields): FindingDoc {
  return {
    '@timestamp': f.lastSeen,
    event: { id: f.eventId, kind: 'alert', category: ['network'], type: ['connection'] },
    rule: { id: f.detector, name: 'First-seen destination', ...(f.ruleAuthor !== undefined ? { author: f.ruleAuthor } : {}), ruleset: 'sockhunt' },
    threat: { framework: 'MITRE ATT&CK', technique: [{ id: f.technique, name: 'Application Layer Protocol' }] },
    hunt: {
      id: f.huntId,
      detector: f.detector,
      risk: f.risk,
      confidence: f.confidence,
      score: f.score,
      recommended_action: f.recommendedAction,
      evidence: f.evidence,
      first_seen: f.firstSeen,
      last_seen: f.lastSeen,
      count: f.count,
    },
    host: { name: f.hostName, id: f.hostId },
    user: f.user,
    process: f.process,
    destination: { ip: f.ip, port: f.port },
    network: { transport: f.transport, direction: 'egress' },
  };
}

let huntSeq = 0;

export interface FindingSpec {
  agentId: string;
  eventId?: string;
  hostName?: string;
  ip?: string;
  port?: number;
  transport?: 'tcp' | 'udp';
  risk?: Risk;
  score?: number;
  count?: number;
  lastSeen?: string;
  detector?: FindingDoc['hunt']['detector'];
  technique?: string;
  executable?: string | null;
  name?: string | null;
  evidence?: Array<Record<string, unknown>>;
}

/** A finding from agent `spec.agentId` on web-01, each with the next hunt id (TH-HUNTIN-20261128-0001, -0002, …). */
export function finding(spec: FindingSpec): FindingDoc {
  return findingDocument({
    eventId: spec.eventId ?? randomUUID(),
    huntId: `TH-HUNTIN-20261128-${String(++huntSeq).padStart(4, '0')}`,
    detector: spec.detector ?? 'first-seen',
    ruleAuthor: 'sockhunt',
    technique: spec.technique ?? 'T1071',
    risk: spec.risk ?? 'Medium',
    confidence: 'Medium',
    score: spec.score ?? 0.5,
    recommendedAction: 'Check what the process is and why it talks to this destination.',
    evidence: spec.evidence ?? [{ summary: `first connection of curl to ${spec.ip ?? '203.0.113.10'}` }],
    firstSeen: '2026-11-28T09:00:00.000Z',
    lastSeen: spec.lastSeen ?? '2026-11-28T10:00:00.000Z',
    count: spec.count ?? 1,
    hostName: spec.hostName ?? 'web-01',
    hostId: spec.agentId,
    user: { name: 'root', id: '0' },
    process: {
      pid: 1234,
      name: spec.name === undefined ? 'curl' : spec.name,
      executable: spec.executable === undefined ? '/usr/bin/curl' : spec.executable,
      command_line: 'curl https://example.com',
      parent: { pid: 1, name: 'systemd' },
    },
    ip: spec.ip ?? '203.0.113.10',
    port: spec.port ?? 443,
    transport: spec.transport ?? 'tcp',
  });
}

export interface FindingDocSpec {
  eventId?: string;
  /** Also the second of its timestamp (12:00:<count>). */
  count?: number;
  risk?: Risk;
  hostId?: string;
  port?: number;
  /** Pads the evidence with this many characters (a document of about that size). */
  pad?: number;
}

/** A schema-valid (FindingDocSchema.parse) finding of test-host, as the agent's outbox queues it. */
export function findingDoc(spec: FindingDocSpec = {}): FindingDoc {
  const t = new Date(Date.UTC(2026, 10, 28, 12, 0, spec.count ?? 1)).toISOString();
  return FindingDocSchema.parse(
    findingDocument({
      eventId: spec.eventId ?? randomUUID(),
      huntId: 'TH-HUNTIN-20261128-0001',
      detector: 'first-seen',
      technique: 'T1071',
      risk: spec.risk ?? 'Low',
      confidence: 'Low',
      score: 0.4,
      recommendedAction: 'Check it.',
      evidence: spec.pad ? [{ pad: 'x'.repeat(spec.pad) }] : [],
      firstSeen: '2026-11-28T12:00:00.000Z',
      lastSeen: t,
      count: spec.count ?? 1,
      hostName: 'test-host',
      hostId: spec.hostId ?? '6f1f2c9e-7c55-4d3a-9d8e-2b1f3a4c5d6e',
      user: { name: null, id: null },
      process: { pid: 1, name: 'curl', executable: '/usr/bin/curl', command_line: 'curl', parent: { pid: null, name: null } },
      ip: '198.51.100.7',
      port: spec.port ?? 4444,
      transport: 'tcp',
    }),
  );
}
