// Turns one agent frame into what ingest acts on: parsed with the protocol's schema, and findings reduced to
// the columns the store writes plus the document's JSON. Pure and synchronous, so that it runs the same in
// a validation worker (server/validator.ts) and inline.
import { z } from 'zod';
import { FindingDocSchema, type FindingDoc } from '../agent/findings.js';
import { AgentMessageSchema, MAX_BATCH, parseFrame, type AgentMessage, type WireErrorCode } from './protocol.js';

/** A validated finding as the store takes it. */
export interface PreparedFinding {
  seq: number;
  eventId: string;
  /** host.id, lower-cased (compared with the authenticated agent id). */
  hostId: string;
  hostName: string;
  huntId: string;
  detector: string;
  /** `,T1071,T1571,`: every technique id, for exact and prefix matches. */
  techniques: string;
  risk: FindingDoc['hunt']['risk'];
  score: number;
  destIp: string;
  destPort: number;
  transport: 'tcp' | 'udp';
  /** The process as stack counting shows it: name, else executable, else ''. */
  process: string;
  firstSeen: number;
  lastSeen: number;
  count: number;
  /** The agent's document as JSON, without the fields only the server sets (hunt.fleet, hunt.endpoint_risk). */
  doc: string;
}

export type FrameResult =
  | { kind: 'message'; message: Exclude<AgentMessage, { type: 'findings' }> }
  | { kind: 'findings'; items: PreparedFinding[] }
  /** A batch whose whole frame failed the schema but whose valid items were kept. */
  | { kind: 'partial'; items: PreparedFinding[]; rejected: number[]; problem: string; total: number }
  | { kind: 'invalid'; code: WireErrorCode; message: string };

const LenientBatchSchema = z.strictObject({
  type: z.literal('findings'),
  items: z.array(z.strictObject({ seq: z.int().min(1).max(Number.MAX_SAFE_INTEGER), finding: z.unknown() })).min(1).max(MAX_BATCH),
});

export function prepareFinding(seq: number, doc: FindingDoc): PreparedFinding {
  let stored: FindingDoc = doc;
  if (doc.hunt.fleet !== undefined || doc.hunt.endpoint_risk !== undefined) {
    const { fleet: _fleet, endpoint_risk: _risk, ...hunt } = doc.hunt;
    stored = { ...doc, hunt };
  }
  return {
    seq,
    eventId: doc.event.id,
    hostId: doc.host.id.toLowerCase(),
    hostName: doc.host.name,
    huntId: doc.hunt.id,
    detector: doc.hunt.detector,
    techniques: `,${doc.threat.technique.map((t) => t.id).join(',')},`,
    risk: doc.hunt.risk,
    score: doc.hunt.score,
    destIp: doc.destination.ip,
    destPort: doc.destination.port,
    transport: doc.network.transport,
    process: doc.process.name ?? doc.process.executable ?? '',
    firstSeen: Date.parse(doc.hunt.first_seen),
    lastSeen: Date.parse(doc.hunt.last_seen),
    count: doc.hunt.count,
    doc: JSON.stringify(stored),
  };
}

/** Items of a batch that failed its schema as a whole: the valid ones are kept, the others named by seq. */
function salvage(text: string): FrameResult | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  const batch = LenientBatchSchema.safeParse(raw);
  if (!batch.success) return null;
  const items: PreparedFinding[] = [];
  const rejected: number[] = [];
  let problem = '';
  for (const item of batch.data.items) {
    const r = FindingDocSchema.safeParse(item.finding);
    if (r.success) {
      items.push(prepareFinding(item.seq, r.data));
      continue;
    }
    rejected.push(item.seq);
    if (!problem) {
      const issue = r.error.issues[0];
      problem = issue ? `finding.${issue.path.join('.')}: ${issue.message}` : 'invalid finding';
    }
  }
  return { kind: 'partial', items, rejected, problem, total: batch.data.items.length };
}

/** One text frame → what it means. Never throws. */
export function processFrame(data: string | Uint8Array): FrameResult {
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  const parsed = parseFrame(AgentMessageSchema, text);
  if (!parsed.ok) {
    if (parsed.code === 'SOCKHUNT_E_PROTO_SCHEMA') {
      const partial = salvage(text);
      if (partial) return partial;
    }
    return { kind: 'invalid', code: parsed.code, message: parsed.message };
  }
  const msg = parsed.value;
  if (msg.type !== 'findings') return { kind: 'message', message: msg };
  return { kind: 'findings', items: msg.items.map((i) => prepareFinding(i.seq, i.finding)) };
}
