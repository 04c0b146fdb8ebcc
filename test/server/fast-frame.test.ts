// The fast path of findings-batch validation (server/fast-frame.ts) against zod: every frame — a canonical batch
// and a thousand mutants of it — must come out of processFrame exactly as the schema path makes it (same
// accepted items and columns, same document JSON, same errors), whichever path took it.
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { FindingDocSchema } from '../../core/finding.js';
import { FAST_PATH, SCHEMA_FINGERPRINT, findingSpans } from '../../server/fast-frame.js';
import { decodeBatch, prepareFinding, processFrame, type FrameResult } from '../../server/frames.js';
import { AgentMessageSchema, parseFrame } from '../../core/protocol.js';
import { finding } from '../support/findings.js';

const agentId = randomUUID();

/** What the schema path (zod over the whole message, documents serialised from zod's output) makes of a frame. */
function reference(text: string): unknown {
  const parsed = parseFrame(AgentMessageSchema, text);
  if (!parsed.ok) return { ok: false, code: parsed.code };
  if (parsed.value.type !== 'findings') return { ok: true, kind: 'message' };
  return {
    ok: true,
    kind: 'findings',
    items: parsed.value.items.map((i) => {
      const p = prepareFinding(i.seq, i.finding);
      return { ...p, doc: Buffer.from(p.doc).toString('utf8') };
    }),
  };
}

/** processFrame's result in the reference's terms; a document is compared as the JSON it parses to. */
function actual(r: FrameResult): unknown {
  if (r.kind === 'invalid') return { ok: false, code: r.code };
  if (r.kind === 'partial') return { ok: false, code: 'SOCKHUNT_E_PROTO_SCHEMA' };
  if (r.kind === 'message') return { ok: true, kind: 'message' };
  return {
    ok: true,
    kind: 'findings',
    items: decodeBatch(r.batch).map((p) => ({ ...p, doc: JSON.stringify(JSON.parse(Buffer.from(p.doc).toString('utf8'))) })),
  };
}

function frame(findings: unknown[], space?: number): string {
  return JSON.stringify({ type: 'findings', items: findings.map((f, i) => ({ seq: i + 1, finding: f })) }, null, space);
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every object and array in `doc` with its path. */
function containers(doc: Json, path: Array<string | number> = []): Array<{ path: Array<string | number>; value: Json }> {
  const out: Array<{ path: Array<string | number>; value: Json }> = [];
  if (doc !== null && typeof doc === 'object') {
    out.push({ path, value: doc });
    for (const [k, v] of Array.isArray(doc) ? doc.entries() : Object.entries(doc)) out.push(...containers(v as Json, [...path, k]));
  }
  return out;
}

function at(doc: Json, path: Array<string | number>): Json {
  return path.reduce<Json>((v, k) => (v as Record<string | number, Json>)[k]!, doc);
}

const REPLACEMENTS: Json[] = [null, 0, -1, 1.5, 2, 65536, 2 ** 53, '', 'x', 'T1071', 'TH-HUNTIN-20261128-0001', '2026-02-30T00:00:00Z', '2026-11-28T10:00:00+02:00', true, [], {}, ['network'], { a: 1 }];

/** A canonical document and mutants of it: keys removed, values replaced, unknown and server-only keys added, keys reordered. */
function mutants(base: Json): Json[] {
  const out: Json[] = [];
  const clone = (): Json => JSON.parse(JSON.stringify(base)) as Json;
  for (const { path, value } of containers(base)) {
    const keys = Array.isArray(value) ? [...value.keys()] : Object.keys(value as object);
    for (const k of keys) {
      for (const r of REPLACEMENTS) {
        const m = clone();
        (at(m, path) as Record<string | number, Json>)[k] = r;
        out.push(m);
      }
      if (!Array.isArray(value)) {
        const m = clone();
        delete (at(m, path) as Record<string, Json>)[k as string];
        out.push(m);
      }
    }
    if (!Array.isArray(value)) {
      const extra = clone();
      (at(extra, path) as Record<string, Json>).unexpected = 1;
      out.push(extra);
      const proto = clone();
      Object.defineProperty(at(proto, path), '__proto__', { value: { polluted: true }, enumerable: true, configurable: true, writable: true });
      out.push(proto);
      const reversed = clone();
      const obj = at(reversed, path) as Record<string, Json>;
      const entries = Object.entries(obj).reverse();
      for (const [k] of entries) delete obj[k];
      for (const [k, v] of entries) obj[k] = v;
      out.push(reversed);
    } else {
      const longer = clone();
      (at(longer, path) as Json[]).push((at(longer, path) as Json[])[0] ?? null);
      out.push(longer);
    }
  }
  const server = clone() as { hunt: Record<string, Json> };
  server.hunt.endpoint_risk = 'Low';
  server.hunt.fleet = { hosts: 1, prevalence: 1, modifier: 0, reason: 'agent said so' };
  out.push(server);
  return out;
}

function check(text: string): FrameResult {
  const r = processFrame(Buffer.from(text));
  expect(actual(r), text.slice(0, 300)).toEqual(reference(text));
  return r;
}

describe('fast path of findings batches', () => {
  it('is in use: the schema is the one it was written against', () => {
    // When FindingDocSchema changes this fails: review server/fast-frame.ts against the new schema, then put the
    // new fingerprint into its SCHEMA_SHA256.
    expect(SCHEMA_FINGERPRINT).toMatch(/^[0-9a-f]{64}$/);
    expect(FAST_PATH).toBe(true);
  });

  it('keeps a canonical document as the bytes it arrived in', () => {
    const docs = [
      finding({ agentId, ip: '198.51.100.1' }),
      finding({ agentId, ip: '198.51.100.2', evidence: [{ summary: 'a "quoted" {brace} [x] \\ é ✓' }] }),
      // an odd number of escaped quotes, a string ending in a backslash, brackets that do not pair up
      finding({ agentId, ip: '198.51.100.3', evidence: [{ summary: 'one " quote } ] {', path: 'C:\\dir\\', odd: '\\"' }, { '"}': '\u0000\n' }] }),
    ];
    const bytes = Buffer.from(frame(docs));
    const r = processFrame(bytes);
    if (r.kind !== 'findings') throw new Error(r.kind);
    expect(r.batch.docs.buffer).toBe(bytes.buffer);
    const items = decodeBatch(r.batch);
    for (let i = 0; i < docs.length; i++) expect(Buffer.from(items[i]!.doc).toString('utf8')).toBe(JSON.stringify(docs[i]));
    check(frame(docs));
  });

  it('agrees with zod on every mutant of a document', () => {
    const raw = finding({ agentId, evidence: [{ summary: 'first connection', n: 1 }, { nested: { a: [1, 'two'] } }] }) as unknown as Record<string, Record<string, Json>>;
    raw.rule!.reference = ['https://attack.mitre.org/techniques/T1071/'];
    raw.threat!.enrichments = [{ indicator: { ip: '203.0.113.10' }, matched: { field: 'destination.ip' } }];
    raw.destination!.domain = 'example.com';
    // zod's output is the canonical form (keys in the schema's order): the form the fast path takes.
    const base = FindingDocSchema.parse(raw) as unknown as Json;
    const all = mutants(base);
    expect(all.length).toBeGreaterThan(1000);
    let accepted = 0;
    let fast = 0;
    for (const m of all) {
      const text = frame([finding({ agentId }), m]);
      if (check(text).kind === 'findings') accepted++;
      // Alone, and indented (the scanner's whitespace).
      const alone = frame([m]);
      const bytes = Buffer.from(alone);
      const r = check(alone);
      if (r.kind === 'findings' && r.batch.docs.buffer === bytes.buffer) fast++;
      check(frame([m], 1));
    }
    // Both kinds were exercised: documents the schema takes and ones it refuses, and the fast path took many.
    expect(accepted).toBeGreaterThan(100);
    expect(accepted).toBeLessThan(all.length);
    expect(fast).toBeGreaterThan(100);
  });

  it('agrees with zod on numbers JSON.stringify cannot write, and on batch-level mistakes', () => {
    const doc = JSON.stringify(finding({ agentId }));
    for (const [from, to] of [
      ['"score":0.5', '"score":1e400'],
      ['"score":0.5', '"score":-0'],
      ['"score":0.5', '"score":5e-1'],
      ['"count":1', '"count":1.0'],
      ['"count":1', '"count":1e400'],
      ['"port":443', '"port":4.43e2'],
      ['"pid":1234', '"pid":-0'],
    ] as const) {
      check(`{"type":"findings","items":[{"seq":1,"finding":${doc.replace(from, to)}}]}`);
    }
    for (const text of [
      `{"type":"findings","items":[]}`,
      `{"type":"findings","items":{}}`,
      `{"type":"findings","items":[{"seq":1,"finding":${doc}}],"extra":1}`,
      `{"type":"findings","items":[{"seq":1,"finding":${doc},"extra":1}]}`,
      `{"type":"findings","items":[{"seq":0,"finding":${doc}}]}`,
      `{"type":"findings","items":[{"seq":1.5,"finding":${doc}}]}`,
      `{"type":"findings","items":[{"seq":9007199254740992,"finding":${doc}}]}`,
      `{"type":"findings","items":[{"seq":"1","finding":${doc}}]}`,
      `{"type":"findings","items":[{"finding":${doc}}]}`,
      `{"type":"findings","items":[${Array.from({ length: 501 }, (_, i) => `{"seq":${i + 1},"finding":${doc}}`).join(',')}]}`,
      `{"items":[{"seq":1,"finding":${doc}}],"type":"findings"}`,
      `{"type":"findings","items":[{"finding":${doc},"seq":1}]}`,
      `{"type":"findings","items":[{"seq":1,"finding":{}},{"seq":2,"finding":${doc}}]}`,
      `{"type":"findings","items":[{"seq":1,"finding":${doc}}],"type":"findings"}`,
      `{"type":"heartbeat","ts":1,"outbox":{"pending":0,"dropped":0}}`,
    ]) {
      check(text);
    }
  });

  it('keeps documents whose strings hold escapes, and numbers in any JSON form', () => {
    // A quote, a backslash, a newline, \u escapes a custom encoder may write for plain letters.
    const doc = finding({ agentId, evidence: [{ summary: 'plain' }] });
    const texts: string[] = [];
    for (const value of ['say "hi"', 'C:\\dir\\', 'two\nlines', 'a"', 'a\\"b', '\\"']) {
      const d = { ...doc, hunt: { ...doc.hunt, recommended_action: value }, process: { ...doc.process, command_line: value } };
      texts.push(frame([d]));
    }
    texts.push(frame([doc]).replace('"name":"curl"', '"name":"\\u0063url"'));
    texts.push(frame([doc]).replace('"risk":"Medium"', '"risk":"\\u004dedium"'));
    texts.push(frame([doc]).replace('"score":0.5', '"score":0.50'));
    texts.push(frame([doc]).replace('"score":0.5', '"score":5e-1'));
    texts.push(frame([doc]).replace('"pid":1234', '"pid":1234.0'));
    texts.push(frame([doc]).replace('"count":1', '"count":1e0'));
    for (const text of texts) expect(check(text).kind).toBe('findings');
  });

  it('finds each document in frames laid out any valid way', () => {
    const doc = JSON.stringify(finding({ agentId }));
    const other = JSON.stringify(finding({ agentId, ip: '198.51.100.9', evidence: [{ summary: '},{"seq":2,"finding":{' }] }));
    const texts = [
      // the finding before the seq, whitespace everywhere, a repeated key (JSON.parse keeps the last)
      `{"items":[{"finding":${doc},"seq":1},{"seq":2,"finding":${other}}],"type":"findings"}`,
      ` { "type" : "findings" , "items" : [ { "seq" : 1 , "finding" : ${JSON.stringify(JSON.parse(doc), null, 2)} } ] } `,
      `{"type":"findings","items":[{"seq":1,"finding":${other},"finding":${doc}}]}`,
      `{"type":"findings","items":[{"seq":1,"finding":${doc}}],"items":[{"seq":5,"finding":${other}}]}`,
      // an escaped key the scanner does not decode: the documents are serialised instead
      `{"type":"findings","items":[{"seq":1,"fin\\u0064ing":${doc}}]}`,
    ];
    for (const text of texts) expect(check(text).kind).toBe('findings');
    expect(findingSpans(Buffer.from(texts[4]!), 1)).toBeNull();
    const spans = findingSpans(Buffer.from(texts[0]!), 2)!;
    expect(Buffer.from(texts[0]!).subarray(spans[0], spans[1]).toString()).toBe(doc);
    expect(Buffer.from(texts[0]!).subarray(spans[2], spans[3]).toString()).toBe(other);
  });

  it('never stores a document with a repeated key as it arrived', () => {
    // JSON.parse keeps the last of two keys; a SIEM parser may keep the first. The stored bytes hold one.
    // (Frames arrive as bytes: only then may the document be kept as it arrived.)
    const doc = finding({ agentId });
    const own = JSON.stringify(doc);
    const forged = own.replace('"host":{', '"host":{"name":"victim","id":"00000000-0000-4000-8000-000000000000"},"host":{');
    expect(forged).not.toBe(own);
    const r = processFrame(Buffer.from(`{"type":"findings","items":[{"seq":1,"finding":${forged}}]}`));
    expect(r.kind).toBe('findings');
    const stored = Buffer.from(decodeBatch((r as Extract<FrameResult, { kind: 'findings' }>).batch)[0]!.doc).toString('utf8');
    expect(stored).not.toContain('victim');
    expect(stored.match(/"host":/g)).toHaveLength(1);
    expect(JSON.parse(stored)).toEqual(JSON.parse(own));
    // and deeper: a repeated key inside the evidence
    const deep = own.replace('"evidence":[{', '"evidence":[{"summary":"first",');
    const r2 = processFrame(Buffer.from(`{"type":"findings","items":[{"seq":1,"finding":${deep}}]}`));
    const stored2 = Buffer.from(decodeBatch((r2 as Extract<FrameResult, { kind: 'findings' }>).batch)[0]!.doc).toString('utf8');
    expect(stored2).not.toContain('"first"');
  });

  it('stores numbers as JSON.stringify spells them, whatever the frame spelled', () => {
    const own = JSON.stringify(finding({ agentId }));
    const stored = (text: string): string => {
      const r = processFrame(Buffer.from(`{"type":"findings","items":[{"seq":1,"finding":${text}}]}`));
      if (r.kind !== 'findings') throw new Error(r.kind);
      return Buffer.from(decodeBatch(r.batch)[0]!.doc).toString('utf8');
    };
    expect(stored(own)).toBe(own);
    for (const [from, to] of [
      ['"port":443', '"port":4.43e2'],
      ['"count":1', '"count":1.0'],
      ['"count":1', '"count":1.0000000000000001'],
      ['"score":0.5', '"score":5E-1'],
      ['"pid":1234', '"pid":1234.000'],
    ] as const) {
      expect(own).toContain(from);
      const text = stored(own.replace(from, to));
      expect(text, to).toContain(from);
      expect(text, to).not.toContain(to);
    }
    // and what is already canonical stays the bytes as they arrived
    const canonical = own.replace('"summary":', '"n":-12,"x":0,"y":-0.25,"z":1e+21,"w":0.000001,"v":1e-7,"u":123456789.12345,"summary":');
    expect(stored(canonical)).toBe(canonical);
    for (const [spelled, canon] of [
      ['-0', '0'],
      ['-0.0', '0'],
      ['1.50', '1.5'],
      ['0.0000001', '1e-7'],
      ['1E21', '1e+21'],
      ['0.1234567890123456789', '0.12345678901234568'],
    ] as const) {
      expect(stored(own.replace('"summary":', `"q":${spelled},"summary":`)), spelled).toContain(`"q":${canon},`);
    }
    // past double precision: the stored value is the one that was checked
    expect(stored(own.replace('"summary":', '"big":123456789012345678,"summary":'))).toContain('"big":123456789012345680');
  });

  it('refuses documents nested deeper than the protocol allows, without throwing', () => {
    const own = JSON.stringify(finding({ agentId, evidence: [{ summary: 'DEEP' }] }));
    for (const depth of [40, 6000, 200_000]) {
      const deep = own.replace('"DEEP"', `${'['.repeat(depth)}1${']'.repeat(depth)}`);
      const r = processFrame(Buffer.from(`{"type":"findings","items":[{"seq":7,"finding":${deep}}]}`));
      expect(r.kind, String(depth)).toBe('partial');
      if (r.kind === 'partial') expect(r.rejected).toEqual([7]);
    }
    // 20 levels inside the evidence is fine (26 in all)
    const ok = own.replace('"DEEP"', `${'['.repeat(20)}1${']'.repeat(20)}`);
    expect(processFrame(Buffer.from(`{"type":"findings","items":[{"seq":7,"finding":${ok}}]}`)).kind).toBe('findings');
  });

  it('agrees with the schema for the document alone too', () => {
    // fastFinding is only ever a subset of FindingDocSchema: spot-check the pair directly.
    const good = finding({ agentId });
    expect(FindingDocSchema.safeParse(good).success).toBe(true);
    expect(check(frame([good])).kind).toBe('findings');
  });
});
