import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { decodeBatch, processFrame, type FrameResult, type PreparedFinding } from '../../server/frames.js';
import { finding } from '../support/findings.js';

const agentId = randomUUID();

function batch(findings: unknown[], space?: number): string {
  return JSON.stringify({ type: 'findings', items: findings.map((f, i) => ({ seq: i + 1, finding: f })) }, null, space);
}

function itemsOf(r: FrameResult): PreparedFinding[] {
  if (r.kind !== 'findings') throw new Error(`${r.kind}: ${JSON.stringify(r)}`);
  return decodeBatch(r.batch);
}

const text = (doc: Uint8Array): string => Buffer.from(doc).toString('utf8');

describe('processFrame', () => {
  it('prepares each finding with its columns and its document text', () => {
    const docs = [finding({ agentId, ip: '198.51.100.1', technique: 'T1571' }), finding({ agentId: agentId.toUpperCase(), ip: '198.51.100.2' })];
    for (const frame of [batch(docs), Buffer.from(batch(docs)), Buffer.from(batch(docs, 2))]) {
      const items = itemsOf(processFrame(frame));
      expect(items[0]).toMatchObject({ seq: 1, eventId: docs[0]!.event.id, hostId: agentId, destIp: '198.51.100.1', techniques: ',T1571,', process: 'curl', count: 1 });
      expect(items[1]!.hostId).toBe(agentId);
      expect(JSON.parse(text(items[0]!.doc))).toEqual(docs[0]);
      expect(JSON.parse(text(items[1]!.doc))).toEqual(docs[1]);
    }
  });

  it('stores the document without the fields only the server sets, and without unknown keys', () => {
    const extra = { ...finding({ agentId }), injected: { a: 1 } };
    (extra.hunt as any).fleet = { hosts: 1, prevalence: 1, modifier: 0, reason: 'agent said so' };
    (extra.hunt as any).endpoint_risk = 'Low';
    const doc = JSON.parse(text(itemsOf(processFrame(Buffer.from(batch([extra], 2))))[0]!.doc));
    expect(doc).not.toHaveProperty('injected');
    expect(doc.hunt).not.toHaveProperty('fleet');
    expect(doc.hunt).not.toHaveProperty('endpoint_risk');
  });

  it('keeps strings with quotes, braces and colons intact', () => {
    const tricky = finding({ agentId, evidence: [{ summary: 'a "quoted" {brace} [bracket] key:value \\ end', 'we:ird': 'x' }] });
    expect(JSON.parse(text(itemsOf(processFrame(Buffer.from(batch([tricky]))))[0]!.doc))).toEqual(tricky);
  });

  it('classifies other frames', () => {
    expect(processFrame('{"type":"heartbeat","ts":1,"outbox":{"pending":0,"dropped":0}}').kind).toBe('message');
    expect(processFrame('nope')).toMatchObject({ kind: 'invalid', code: 'SOCKHUNT_E_PROTO_JSON' });
    expect(processFrame('{"type":"nope"}')).toMatchObject({ kind: 'invalid', code: 'SOCKHUNT_E_PROTO_SCHEMA' });
    const bad = { ...finding({ agentId }), hunt: { ...finding({ agentId }).hunt, score: 7 } };
    expect(processFrame(batch([finding({ agentId }), bad]))).toMatchObject({ kind: 'partial', rejected: [2], total: 2 });
  });
});
