// Turns one agent frame into what ingest acts on: parsed with the protocol's schema, and findings reduced to
// the columns the store writes plus the document's JSON. Pure and synchronous, so that it runs the same in
// a validation worker (server/validator.ts) and inline. Findings batches in the form agents send take the
// fast path of server/fast-frame.ts (same checks, the document's bytes kept as they arrived); anything else,
// and every frame that fails, goes through zod.
import { z } from 'zod';
import { FindingDocSchema, type FindingDoc } from '../core/finding.js';
import { AgentMessageSchema, MAX_BATCH, MAX_JSON_DEPTH, checkMessage, type AgentMessage, type WireErrorCode } from '../core/protocol.js';
import { fastFinding, findingSpans, membersIn, membersOf } from './fast-frame.js';

import { batchOfHost, decodeBatch, encodeBatch, type PreparedBatch, type PreparedFinding } from '../store/server/batch.js';

export { batchOfHost, decodeBatch, encodeBatch, type PreparedBatch, type PreparedFinding };

export type FrameResult =
  | { kind: 'message'; message: Exclude<AgentMessage, { type: 'findings' }> }
  | { kind: 'findings'; batch: PreparedBatch }
  /** A batch whose whole frame failed the schema but whose valid items were kept. */
  | { kind: 'partial'; batch: PreparedBatch; rejected: number[]; problem: string; total: number }
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
    doc: utf8.encode(JSON.stringify(stored)),
  };
}

const utf8 = new TextEncoder();

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A findings batch whose every item fastFinding recognises (or zod accepts on its own), else null: the frame
 * then takes the full schema's path, which names what is wrong. The checks are FindingsBatchSchema's.
 */
function fastBatch(v: Record<string, unknown>, bytes: Uint8Array | null): PreparedFinding[] | null {
  for (const k in v) if (k !== 'type' && k !== 'items') return null;
  const items = v.items;
  if (!Array.isArray(items) || items.length < 1 || items.length > MAX_BATCH) return null;
  const out: PreparedFinding[] = new Array(items.length);
  const fast: boolean[] = new Array(items.length);
  const members: number[] = new Array(items.length);
  let anyFast = false;
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (!isObj(item)) return null;
    let n = 0;
    for (const k in item) {
      if (k !== 'seq' && k !== 'finding') return null;
      n++;
    }
    const seq = item.seq;
    if (n !== 2 || !Number.isSafeInteger(seq) || (seq as number) < 1) return null;
    // The document sits three levels down (message, items, item); too deep: the full path refuses the frame.
    members[i] = membersOf(item.finding, MAX_JSON_DEPTH - 3);
    if (members[i]! < 0) return null;
    const prepared = fastFinding(seq as number, item.finding);
    if (prepared) {
      out[i] = prepared;
      fast[i] = anyFast = true;
      continue;
    }
    const r = FindingDocSchema.safeParse(item.finding);
    if (!r.success) return null;
    out[i] = prepareFinding(seq as number, r.data);
    fast[i] = false;
  }
  if (!anyFast) return out;
  const spans = bytes ? findingSpans(bytes, items.length) : null;
  for (let i = 0; i < items.length; i++) {
    if (!fast[i]) continue;
    // The bytes as they arrived are the document zod would output (same keys, order and values); without
    // them (escaped keys in the frame), or when they spell it otherwise (a key repeated inside the document, a
    // number not in JSON.stringify's form), the parsed input serialises to the same JSON.
    const finding = (items[i] as { finding: unknown }).finding;
    const start = spans ? spans[i * 2]! : 0;
    const end = spans ? spans[i * 2 + 1]! : 0;
    out[i]!.doc = spans && membersIn(bytes!, start, end) === members[i] ? bytes!.subarray(start, end) : utf8.encode(JSON.stringify(finding));
  }
  return out;
}

/** Items of a batch that failed its schema as a whole: the valid ones are kept, the others named by seq. */
function salvage(raw: unknown): FrameResult | null {
  const batch = LenientBatchSchema.safeParse(raw);
  if (!batch.success) return null;
  const items: PreparedFinding[] = [];
  const rejected: number[] = [];
  let problem = '';
  for (const item of batch.data.items) {
    if (membersOf(item.finding, MAX_JSON_DEPTH - 3) < 0) {
      rejected.push(item.seq);
      problem ||= `finding nested deeper than ${MAX_JSON_DEPTH} levels`;
      continue;
    }
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
  return { kind: 'partial', batch: encodeBatch(items), rejected, problem, total: batch.data.items.length };
}

/**
 * One text frame → what it means. Never throws. `owned`: the frame's bytes are a buffer of their own that
 * the result may take (a validation worker's copy), so the documents need not be copied out of it.
 */
export function processFrame(data: string | Uint8Array, owned = false): FrameResult {
  try {
    return readFrame(data, owned);
  } catch (err) {
    // Never reached by any frame we know of; if a checker throws, the frame is refused, the session lives on.
    return { kind: 'invalid', code: 'SOCKHUNT_E_PROTO_SCHEMA', message: `the frame could not be checked: ${String((err as Error)?.message ?? err).slice(0, 200)}` };
  }
}

function readFrame(data: string | Uint8Array, owned: boolean): FrameResult {
  const bytes = typeof data === 'string' ? null : Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let value: unknown;
  try {
    value = JSON.parse(bytes ? bytes.toString('utf8') : (data as string));
  } catch (err) {
    return { kind: 'invalid', code: 'SOCKHUNT_E_PROTO_JSON', message: `not JSON: ${(err as Error).message.slice(0, 200)}` };
  }
  if (isObj(value) && value.type === 'findings') {
    const items = fastBatch(value, bytes);
    if (items) {
      const whole = owned && bytes !== null && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
      return { kind: 'findings', batch: encodeBatch(items, bytes ? { buffer: bytes.buffer, owned: whole } : undefined) };
    }
  }
  if (membersOf(value, MAX_JSON_DEPTH) < 0) {
    // A batch keeps its other findings; the deep ones are refused by seq.
    const partial = isObj(value) && value.type === 'findings' ? salvage(value) : null;
    return partial ?? { kind: 'invalid', code: 'SOCKHUNT_E_PROTO_SCHEMA', message: `nested deeper than ${MAX_JSON_DEPTH} levels` };
  }
  const parsed = checkMessage(AgentMessageSchema, value);
  if (!parsed.ok) {
    if (parsed.code === 'SOCKHUNT_E_PROTO_SCHEMA') {
      const partial = salvage(value);
      if (partial) return partial;
    }
    return { kind: 'invalid', code: parsed.code, message: parsed.message };
  }
  const msg = parsed.value;
  if (msg.type !== 'findings') return { kind: 'message', message: msg };
  return { kind: 'findings', batch: encodeBatch(msg.items.map((i) => prepareFinding(i.seq, i.finding))) };
}
