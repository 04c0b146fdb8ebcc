// Turns one agent frame into what ingest acts on: parsed with the protocol's schema, and findings reduced to
// the columns the store writes plus the document's JSON. Pure and synchronous, so that it runs the same in
// a validation worker (server/validator.ts) and inline. Findings batches in the form agents send take the
// fast path of server/fast-frame.ts (same checks, the document's bytes kept as they arrived); anything else,
// and every frame that fails, goes through zod.
import { z } from 'zod';
import { FindingDocSchema, type FindingDoc } from '../core/finding.js';
import { AgentMessageSchema, MAX_BATCH, MAX_JSON_DEPTH, checkMessage, type AgentMessage, type WireErrorCode } from '../core/protocol.js';
import { fastFinding, findingSpans, membersIn, membersOf } from './fast-frame.js';

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
  /**
   * The agent's document as UTF-8 JSON, without the fields only the server sets (hunt.fleet, hunt.endpoint_risk)
   * and without unknown keys: what zod's output serialises to (its bytes in the frame when they are exactly that).
   * May be a view into the frame's buffer, shared with the batch's other items.
   */
  doc: Uint8Array;
}

/**
 * Prepared findings in the form that crosses threads (validation worker → main → database thread): a few
 * flat arrays and one buffer of document bytes instead of an object per finding, which structured clone
 * copies field name by field name. `seqs` and `hostIds` are there for the session (acks, errors, identity).
 */
export interface PreparedBatch {
  readonly seqs: number[];
  readonly hostIds: string[];
  /** STRING_FIELDS of each item, item after item. */
  readonly strs: string[];
  /** NUMBER_FIELDS of each item, then its document's offset and length in `docs`. */
  readonly nums: Float64Array;
  readonly docs: Uint8Array;
  /** `docs` views a buffer of this batch's alone, whole: it may be transferred to another thread. */
  readonly owned: boolean;
}

const STRING_FIELDS = ['eventId', 'hostName', 'huntId', 'detector', 'techniques', 'risk', 'destIp', 'transport', 'process'] as const;
const NUMBER_FIELDS = ['seq', 'score', 'destPort', 'firstSeen', 'lastSeen', 'count'] as const;
const NS = STRING_FIELDS.length;
const NN = NUMBER_FIELDS.length + 2;

/** Packs items; their documents are copied into one buffer unless they already share one (a frame's). */
export function encodeBatch(items: readonly PreparedFinding[], frame?: { buffer: ArrayBufferLike; owned: boolean }): PreparedBatch {
  const n = items.length;
  const seqs: number[] = new Array(n);
  const hostIds: string[] = new Array(n);
  const strs: string[] = new Array(n * NS);
  const nums = new Float64Array(n * NN);
  let shared = frame !== undefined;
  for (const it of items) if (it.doc.buffer !== frame?.buffer) shared = false;
  let docs: Uint8Array;
  let owned: boolean;
  if (shared) {
    docs = new Uint8Array(frame!.buffer);
    owned = frame!.owned;
  } else {
    let size = 0;
    for (const it of items) size += it.doc.byteLength;
    docs = new Uint8Array(size);
    owned = true;
  }
  let at = 0;
  for (let i = 0; i < n; i++) {
    const it = items[i]!;
    seqs[i] = it.seq;
    hostIds[i] = it.hostId;
    const s = i * NS;
    for (let k = 0; k < NS; k++) strs[s + k] = it[STRING_FIELDS[k]!];
    const u = i * NN;
    for (let k = 0; k < NN - 2; k++) nums[u + k] = it[NUMBER_FIELDS[k]!];
    if (shared) {
      nums[u + NN - 2] = it.doc.byteOffset;
    } else {
      docs.set(it.doc, at);
      nums[u + NN - 2] = at;
      at += it.doc.byteLength;
    }
    nums[u + NN - 1] = it.doc.byteLength;
  }
  return { seqs, hostIds, strs, nums, docs, owned };
}

/** The items of a batch (documents as views into its buffer). */
export function decodeBatch(b: PreparedBatch): PreparedFinding[] {
  const n = b.seqs.length;
  const out: PreparedFinding[] = new Array(n);
  const { strs, nums, docs } = b;
  for (let i = 0; i < n; i++) {
    const s = i * NS;
    const u = i * NN;
    out[i] = {
      seq: nums[u]!,
      eventId: strs[s]!,
      hostId: b.hostIds[i]!,
      hostName: strs[s + 1]!,
      huntId: strs[s + 2]!,
      detector: strs[s + 3]!,
      techniques: strs[s + 4]!,
      risk: strs[s + 5] as PreparedFinding['risk'],
      score: nums[u + 1]!,
      destIp: strs[s + 6]!,
      destPort: nums[u + 2]!,
      transport: strs[s + 7] as PreparedFinding['transport'],
      process: strs[s + 8]!,
      firstSeen: nums[u + 3]!,
      lastSeen: nums[u + 4]!,
      count: nums[u + 5]!,
      doc: docs.subarray(nums[u + 6]!, nums[u + 6]! + nums[u + 7]!),
    };
  }
  return out;
}

/** The batch of the items whose host.id is `hostId` (the batch itself when all are). */
export function batchOfHost(b: PreparedBatch, hostId: string): PreparedBatch {
  if (b.hostIds.every((h) => h === hostId)) return b;
  return encodeBatch(decodeBatch(b).filter((it) => it.hostId === hostId));
}

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
