// The fast path of findings-batch validation: a hand-written check of FindingDocSchema (core/finding.ts) for
// documents in the form agents produce (the schema's own output: known keys only, in the schema's order), and
// a scanner that finds each finding's bytes in the frame so that the document is stored as it arrived instead
// of being serialised again. A batch is processed in about half the time zod and JSON.stringify took.
//
// It is a filter, never a judge: a document it does not recognise (unknown or server-only keys, other key
// order, anything invalid) returns null and goes through zod, which accepts or rejects it with its message.
// So it may only accept documents zod accepts, with the same result — test/server/fast-frame.test.ts checks
// that against zod on mutated documents. It is pinned to the schema by a fingerprint of its JSON Schema: when
// FindingDocSchema changes, FAST_PATH is false (everything goes through zod) until this file is reviewed and
// the fingerprint updated.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { FindingDocSchema } from '../core/finding.js';
import type { PreparedFinding } from '../store/server/batch.js';

/** SHA-256 of JSON.stringify(z.toJSONSchema(FindingDocSchema)) that the checks below were written against. */
const SCHEMA_SHA256 = '56f86fcec13aefc9cc275b57fdd505ff9b310ea9af62d23719dba482dcb43518';

interface JsonSchemaNode {
  pattern?: string;
  enum?: string[];
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
}

const schemaJson = JSON.stringify(z.toJSONSchema(FindingDocSchema));
export const SCHEMA_FINGERPRINT = createHash('sha256').update(schemaJson).digest('hex');
/** Whether the fast path is in use (the schema is the one it was written against). */
export const FAST_PATH = SCHEMA_FINGERPRINT === SCHEMA_SHA256;

// Patterns and enums are taken from the schema itself (pinned by the fingerprint), not copied.
const root = JSON.parse(schemaJson) as JsonSchemaNode;
const prop = (node: JsonSchemaNode | undefined, name: string): JsonSchemaNode => node?.properties?.[name] ?? {};
const pattern = (node: JsonSchemaNode): RegExp => new RegExp(node.pattern ?? '(?!)');
const choices = (node: JsonSchemaNode): ReadonlySet<unknown> => new Set(node.enum ?? []);
const hunt = prop(root, 'hunt');
const TIMESTAMP = pattern(prop(root, '@timestamp'));
const HUNT_ID = pattern(prop(hunt, 'id'));
const TECHNIQUE_ID = pattern(prop(prop(root, 'threat'), 'technique').items?.properties?.id ?? {});
const DETECTORS = choices(prop(hunt, 'detector'));
const RISKS = choices(prop(hunt, 'risk'));
const CONFIDENCES = choices(prop(hunt, 'confidence'));
const TRANSPORTS = choices(prop(prop(root, 'network'), 'transport'));
const DIRECTIONS = choices(prop(prop(root, 'network'), 'direction'));

type Obj = Record<string, unknown>;

/** Keys of an object in the order zod outputs them; `?` marks an optional one. */
type Keys = ReadonlyArray<readonly [name: string, optional: boolean]>;
const keys = (...names: string[]): Keys => names.map((n) => (n.startsWith('?') ? ([n.slice(1), true] as const) : ([n, false] as const)));

// hunt.endpoint_risk and hunt.fleet are absent on purpose: the server drops them, so a document carrying them
// is not stored as it arrived (zod's path removes them).
const K_DOC = keys('@timestamp', 'event', 'rule', 'threat', 'hunt', 'host', 'user', 'process', 'destination', 'network');
const K_EVENT = keys('id', 'kind', 'category', 'type');
const K_RULE = keys('id', 'name', '?author', '?reference', 'ruleset');
const K_THREAT = keys('framework', 'technique', '?enrichments');
const K_TECHNIQUE = keys('id', 'name');
const K_ENRICHMENT = keys('indicator', 'matched');
const K_HUNT = keys('id', 'detector', 'risk', 'confidence', 'score', 'recommended_action', 'evidence', 'first_seen', 'last_seen', 'count');
const K_NAME_ID = keys('name', 'id');
const K_PROCESS = keys('pid', 'name', 'executable', 'command_line', 'parent');
const K_PARENT = keys('pid', 'name');
const K_DESTINATION = keys('ip', 'port', '?domain');
const K_NETWORK = keys('transport', '?direction');

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Exactly the known keys (optional ones may be missing), in order: then zod's output has the same shape. */
function shaped(o: Obj, spec: Keys): boolean {
  let i = 0;
  for (const k in o) {
    for (;;) {
      const s = spec[i++];
      if (s === undefined) return false;
      if (s[0] === k) break;
      if (!s[1]) return false;
    }
  }
  for (; i < spec.length; i++) if (!spec[i]![1]) return false;
  return true;
}

/** z.record(z.string(), z.unknown()) whose output equals its input: zod drops an own `__proto__` key. */
function record(v: unknown): boolean {
  return isObj(v) && !Object.prototype.hasOwnProperty.call(v, '__proto__');
}

const str = (v: unknown): v is string => typeof v === 'string';
const text = (v: unknown): v is string => typeof v === 'string' && v.length >= 1;
const strOrNull = (v: unknown): boolean => v === null || typeof v === 'string';
const intOrNull = (v: unknown): boolean => v === null || Number.isSafeInteger(v);
const single = (v: unknown, value: string): boolean => Array.isArray(v) && v.length === 1 && v[0] === value;

const NO_DOC = new Uint8Array(0);

/**
 * The checks of FindingDocSchema for a document in its canonical form, and its columns (`doc` left empty for
 * the caller); null: not recognised, ask zod.
 */
export function fastFinding(seq: number, d: unknown): PreparedFinding | null {
  if (!FAST_PATH || !isObj(d) || !shaped(d, K_DOC)) return null;
  const ts = d['@timestamp'];
  if (!str(ts) || !TIMESTAMP.test(ts)) return null;

  const event = d.event;
  if (!isObj(event) || !shaped(event, K_EVENT)) return null;
  if (!text(event.id) || event.kind !== 'alert' || !single(event.category, 'network') || !single(event.type, 'connection')) return null;

  const rule = d.rule;
  if (!isObj(rule) || !shaped(rule, K_RULE) || !text(rule.id) || !text(rule.name) || !text(rule.ruleset)) return null;
  if (rule.author !== undefined && !str(rule.author)) return null;
  if (rule.reference !== undefined && (!Array.isArray(rule.reference) || !rule.reference.every(str))) return null;

  const threat = d.threat;
  if (!isObj(threat) || !shaped(threat, K_THREAT) || threat.framework !== 'MITRE ATT&CK') return null;
  const technique = threat.technique;
  if (!Array.isArray(technique) || technique.length < 1) return null;
  let techniques = ',';
  for (const t of technique) {
    if (!isObj(t) || !shaped(t, K_TECHNIQUE) || !str(t.id) || !TECHNIQUE_ID.test(t.id) || !text(t.name)) return null;
    techniques += `${t.id},`;
  }
  if (threat.enrichments !== undefined) {
    if (!Array.isArray(threat.enrichments)) return null;
    for (const e of threat.enrichments) if (!isObj(e) || !shaped(e, K_ENRICHMENT) || !record(e.indicator) || !record(e.matched)) return null;
  }

  const h = d.hunt;
  if (!isObj(h) || !shaped(h, K_HUNT)) return null;
  if (!str(h.id) || !HUNT_ID.test(h.id) || !DETECTORS.has(h.detector) || !RISKS.has(h.risk) || !CONFIDENCES.has(h.confidence)) return null;
  const score = h.score;
  if (typeof score !== 'number' || !(score >= 0 && score <= 1)) return null;
  if (!text(h.recommended_action) || !Array.isArray(h.evidence) || !h.evidence.every(record)) return null;
  const first = h.first_seen;
  const last = h.last_seen;
  if (!str(first) || !TIMESTAMP.test(first) || !str(last) || !TIMESTAMP.test(last)) return null;
  const count = h.count;
  if (!Number.isSafeInteger(count) || (count as number) < 1) return null;

  const host = d.host;
  if (!isObj(host) || !shaped(host, K_NAME_ID) || !str(host.name) || !str(host.id)) return null;
  const user = d.user;
  if (!isObj(user) || !shaped(user, K_NAME_ID) || !strOrNull(user.name) || !strOrNull(user.id)) return null;
  const p = d.process;
  if (!isObj(p) || !shaped(p, K_PROCESS) || !intOrNull(p.pid) || !strOrNull(p.name) || !strOrNull(p.executable) || !strOrNull(p.command_line)) {
    return null;
  }
  const parent = p.parent;
  if (!isObj(parent) || !shaped(parent, K_PARENT) || !intOrNull(parent.pid) || !strOrNull(parent.name)) return null;
  const dest = d.destination;
  if (!isObj(dest) || !shaped(dest, K_DESTINATION) || !text(dest.ip)) return null;
  const port = dest.port;
  if (!Number.isSafeInteger(port) || (port as number) < 0 || (port as number) > 65535) return null;
  if (dest.domain !== undefined && !str(dest.domain)) return null;
  const net = d.network;
  if (!isObj(net) || !shaped(net, K_NETWORK) || !TRANSPORTS.has(net.transport)) return null;
  if (net.direction !== undefined && !DIRECTIONS.has(net.direction)) return null;

  return {
    seq,
    eventId: event.id,
    hostId: host.id.toLowerCase(),
    hostName: host.name,
    huntId: h.id,
    detector: h.detector as string,
    techniques,
    risk: h.risk as PreparedFinding['risk'],
    score,
    destIp: dest.ip,
    destPort: port as number,
    transport: net.transport as 'tcp' | 'udp',
    process: (p.name as string | null) ?? (p.executable as string | null) ?? '',
    firstSeen: Date.parse(first),
    lastSeen: Date.parse(last),
    count: count as number,
    doc: NO_DOC,
  };
}

// ---- where each finding's bytes are in the frame ----

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const LOWER_E = 0x65;
const UPPER_E = 0x45;
const RBRACKET = 0x5d;

const ITEMS = Buffer.from('items');
const FINDING = Buffer.from('finding');

function skipWs(b: Uint8Array, i: number): number {
  for (;;) {
    const c = b[i];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** `b[i]` is an opening quote: the index after the closing one. */
function stringEnd(b: Uint8Array, i: number): number {
  const n = b.length;
  for (let j = i + 1; j < n; j++) {
    const c = b[j];
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH) j++;
  }
  return -1;
}

/** Byte classes for skipping a value: 1 quote, 2 opening bracket or brace, 3 closing one, 0 anything else. */
const CLASS = new Uint8Array(256);
CLASS[QUOTE] = 1;
CLASS[LBRACE] = CLASS[LBRACKET] = 2;
CLASS[RBRACE] = CLASS[RBRACKET] = 3;

/** `b[i]` starts a value: the index after it. */
function valueEnd(b: Uint8Array, i: number): number {
  const c = b[i];
  const n = b.length;
  if (c === QUOTE) return stringEnd(b, i);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    for (let j = i; j < n; j++) {
      const t = CLASS[b[j]!];
      if (t === 0) continue;
      if (t === 1) {
        // a string: to its closing quote (an escape skips the byte after the backslash)
        for (j++; j < n; j++) {
          const x = b[j];
          if (x === QUOTE) break;
          if (x === BACKSLASH) j++;
        }
        continue;
      }
      if (t === 2) depth++;
      else if (--depth === 0) return j + 1;
    }
    return -1;
  }
  // number, true, false, null
  let j = i;
  for (;;) {
    const x = b[j];
    if (x === undefined || x === COMMA || x === RBRACE || x === RBRACKET || x === 0x20 || x === 0x0a || x === 0x0d || x === 0x09) return j;
    j++;
  }
}

/** A key without escapes equal to `name` (an escaped key could spell anything: the caller gives up). */
function keyIs(b: Uint8Array, start: number, end: number, name: Uint8Array): boolean {
  if (end - start - 2 !== name.length) return false;
  for (let k = 0; k < name.length; k++) if (b[start + 1 + k] !== name[k]) return false;
  return true;
}

function hasEscape(b: Uint8Array, start: number, end: number): boolean {
  for (let k = start; k < end; k++) if (b[k] === BACKSLASH) return true;
  return false;
}

// The key of the member memberValue read last (module state: no object per member on this hot path).
let keyStart = 0;
let keyEnd = 0;

/** `b[i]` starts an object member `"key": value` with an unescaped key: where its value starts, or -1. */
function memberValue(b: Uint8Array, i: number): number {
  if (b[i] !== QUOTE) return -1;
  const ke = stringEnd(b, i);
  if (ke < 0 || hasEscape(b, i, ke)) return -1;
  keyStart = i;
  keyEnd = ke;
  const c = skipWs(b, ke);
  return b[c] === COLON ? skipWs(b, c + 1) : -1;
}

/** The items array at `b[i]`: each item's finding span, and the index after the array. */
function itemSpans(b: Uint8Array, i: number, count: number): { spans: Int32Array; end: number } | null {
  if (b[i] !== LBRACKET) return null;
  const spans = new Int32Array(count * 2);
  let n = 0;
  i = skipWs(b, i + 1);
  if (b[i] === RBRACKET) return null;
  for (;;) {
    if (n >= count || b[i] !== LBRACE) return null;
    let start = -1;
    let end = -1;
    i = skipWs(b, i + 1);
    if (b[i] === RBRACE) return null;
    for (;;) {
      const vs = memberValue(b, i);
      if (vs < 0) return null;
      const isFinding = keyIs(b, keyStart, keyEnd, FINDING);
      const ve = valueEnd(b, vs);
      if (ve < 0) return null;
      if (isFinding) {
        start = vs;
        end = ve;
      }
      i = skipWs(b, ve);
      if (b[i] === RBRACE) break;
      if (b[i] !== COMMA) return null;
      i = skipWs(b, i + 1);
    }
    if (start < 0) return null;
    spans[n * 2] = start;
    spans[n * 2 + 1] = end;
    n++;
    i = skipWs(b, i + 1);
    if (b[i] === RBRACKET) break;
    if (b[i] !== COMMA) return null;
    i = skipWs(b, i + 1);
  }
  return n === count ? { spans, end: i + 1 } : null;
}

/**
 * How many object members (key: value pairs, at every depth) the JSON text `b[start, end)` holds — its colons
 * outside strings — or -1 when a number in it is not spelled as JSON.stringify spells it (`4.43e2`, `1.0`,
 * `1.0000000000000001`): such bytes are not what zod's output serialises to. More members than the parsed value
 * has means a key is repeated, which JSON.parse collapses and other parsers may not. Either way the caller
 * serialises the checked value instead of keeping the bytes (a SIEM that takes the first of two `host` keys
 * would see another host; one that reads `"port":4.43e2` a float).
 */
export function membersIn(b: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let j = start; j < end; j++) {
    const c = b[j]!;
    if (c === COLON) n++;
    else if (c === QUOTE) {
      for (j++; j < end; j++) {
        const x = b[j];
        if (x === QUOTE) break;
        if (x === BACKSLASH) j++;
      }
    } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
      const t = j;
      let exp = false;
      let dot = -1;
      for (; j + 1 < end; j++) {
        const x = b[j + 1]!;
        if (x >= DIGIT_0 && x <= DIGIT_9) continue;
        if (x === DOT) dot = j + 1;
        else if (x === LOWER_E || x === UPPER_E || x === PLUS || x === MINUS) exp = true;
        else break;
      }
      if (!exp && canonicalPlain(b, t, j, dot)) continue;
      const token = Buffer.from(b.buffer, b.byteOffset + t, j + 1 - t).toString('latin1');
      if (String(Number(token)) !== token) return -1;
    }
  }
  return n;
}

/**
 * Whether the number `b[t..last]` (no exponent; `dot` the index of its point or -1) is spelled as JSON.stringify
 * spells its value, decided without making a string: at most 15 digits (so its value's shortest spelling is these
 * digits), no trailing zero after a point, not -0, and not below 1e-6 (printed with an exponent). Anything else
 * is left to the exact check.
 */
function canonicalPlain(b: Uint8Array, t: number, last: number, dot: number): boolean {
  const first = b[t] === MINUS ? t + 1 : t;
  if (last - first + 1 - (dot >= 0 ? 1 : 0) > 15) return false;
  if (dot < 0) return !(b[first] === DIGIT_0 && first > t); // JSON has no other leading zeros; -0 prints as 0
  if (b[last] === DIGIT_0 || dot === last) return false;
  if (b[first] === DIGIT_0) {
    let zeros = 0;
    for (let k = dot + 1; k <= last && b[k] === DIGIT_0; k++) zeros++;
    if (zeros >= 6) return false;
  }
  return true;
}

/**
 * Object members of a parsed JSON value at every depth, or -1 when it nests deeper than `left` containers
 * (the recursion stops there, so a document nested thousands deep costs no stack).
 */
export function membersOf(v: unknown, left: number): number {
  if (typeof v !== 'object' || v === null) return 0;
  if (left <= 0) return -1;
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v) {
      const m = membersOf(x, left - 1);
      if (m < 0) return -1;
      n += m;
    }
    return n;
  }
  for (const k in v) {
    const m = membersOf((v as Record<string, unknown>)[k], left - 1);
    if (m < 0) return -1;
    n += 1 + m;
  }
  return n;
}

/**
 * `[start, end)` byte offsets of `items[k].finding` in a findings frame of `count` items that JSON.parse accepted,
 * in one pass over the bytes, or null when the text has a form this scanner does not follow (escaped keys): the
 * caller then serialises the documents. A repeated key counts where JSON.parse takes it from: its last occurrence.
 */
export function findingSpans(b: Uint8Array, count: number): Int32Array | null {
  let spans: Int32Array | null = null;
  let i = skipWs(b, 0);
  if (b[i] !== LBRACE) return null;
  i = skipWs(b, i + 1);
  if (b[i] === RBRACE) return null;
  for (;;) {
    const vs = memberValue(b, i);
    if (vs < 0) return null;
    let ve: number;
    if (keyIs(b, keyStart, keyEnd, ITEMS)) {
      // Each occurrence is read (the last one is the one JSON.parse kept).
      const r = itemSpans(b, vs, count);
      if (!r) return null;
      spans = r.spans;
      ve = r.end;
    } else {
      ve = valueEnd(b, vs);
    }
    if (ve < 0) return null;
    i = skipWs(b, ve);
    if (b[i] === RBRACE) return spans;
    if (b[i] !== COMMA) return null;
    i = skipWs(b, i + 1);
  }
}
