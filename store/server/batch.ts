// The batch of validated findings as the server store takes it: the columns it writes plus each document's JSON,
// packed in one buffer so that a batch crosses to the store's thread without a copy (server/frames.ts makes it).
import type { FindingDoc } from '../../core/finding.js';

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
