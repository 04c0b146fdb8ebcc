// The recorder keeps open findings in memory so that a repeat costs no query; a sample whose transaction rolls
// back must take those memories back with it, or the finding would be lost until its suppression window ends.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FindingRecorder } from '../../agent/recorder.js';
import { DETECTORS, resolveParams } from '../../agent/detect/index.js';
import { openAgentStore, type AgentStore } from '../../store/agent/index.js';
import { Outbox } from '../../store/agent/outbox.js';
import { SCENARIOS } from './detect/scenarios.js';
import { tempDir } from '../store/agent/helpers.js';

let tmp: ReturnType<typeof tempDir>;
let store: AgentStore;
beforeEach(() => {
  tmp = tempDir();
  store = openAgentStore(join(tmp.dir, 'agent.db'));
});
afterEach(() => {
  store.close();
  tmp.remove();
});

function draft() {
  const d = DETECTORS.find((x) => x.spec.id === 'nonstandard-port')!;
  const [first] = d.detect(SCENARIOS['nonstandard-port']!({}), resolveParams(d));
  if (!first) throw new Error('the scenario made no draft');
  return first;
}

const failedSample = new Error('a later write of the sample failed (SQLITE_FULL)');

describe('finding recorder', () => {
  it('forgets a new finding whose sample rolled back: the next sample creates it and queues it', () => {
    const outbox = new Outbox(store.db);
    const rec = new FindingRecorder({ findings: store.findings, sink: outbox }, { name: 'h', id: store.db.agentId() }, 3_600_000);
    const t0 = Date.now();
    expect(() =>
      store.transaction(() => {
        rec.record([draft()], t0);
        throw failedSample;
      }),
    ).toThrow(failedSample);
    expect(store.findings.list({})).toHaveLength(0);
    expect(outbox.pending()).toBe(0);

    const out = store.transaction(() => rec.record([draft()], t0 + 1000));
    expect(out).toHaveLength(1);
    expect(out[0]!.isNew).toBe(true);
    expect(out[0]!.doc.hunt.count).toBe(1);
    expect(store.findings.list({})).toHaveLength(1);
    expect(outbox.pending()).toBe(1);
  });

  it('takes back a repeat whose sample rolled back: the count goes on from what was kept', () => {
    const rec = new FindingRecorder({ findings: store.findings }, { name: 'h', id: store.db.agentId() }, 3_600_000);
    const t0 = Date.now();
    const [created] = store.transaction(() => rec.record([draft()], t0));
    expect(() =>
      store.transaction(() => {
        expect(rec.record([draft()], t0 + 1000)[0]!.doc.hunt.count).toBe(2);
        throw failedSample;
      }),
    ).toThrow(failedSample);
    const [again] = store.transaction(() => rec.record([draft()], t0 + 2000));
    expect(again!.isNew).toBe(false);
    expect(again!.doc.event.id).toBe(created!.doc.event.id);
    expect(again!.doc.hunt.count).toBe(2);
    expect(store.findings.get(created!.doc.event.id)?.count).toBe(2);
  });

  it('makes a new finding when the open one’s row is gone', () => {
    const rec = new FindingRecorder({ findings: store.findings }, { name: 'h', id: store.db.agentId() }, 3_600_000);
    const t0 = Date.now();
    const [created] = store.transaction(() => rec.record([draft()], t0));
    store.db.sqlite.prepare('DELETE FROM findings').run();
    const [next] = store.transaction(() => rec.record([draft()], t0 + 1000));
    expect(next!.isNew).toBe(true);
    expect(next!.doc.event.id).not.toBe(created!.doc.event.id);
    expect(store.findings.list({})).toHaveLength(1);
  });

  it('puts every new finding and every repeat in the sink, in the transaction that writes it', () => {
    const outbox = new Outbox(store.db);
    const rec = new FindingRecorder({ findings: store.findings, sink: outbox }, { name: 'h', id: store.db.agentId() }, 3_600_000);
    const t0 = Date.now();
    const [created] = store.transaction(() => rec.record([draft()], t0));
    const [again] = store.transaction(() => rec.record([draft()], t0 + 1000));
    expect(again!.doc.event.id).toBe(created!.doc.event.id);
    // the repeat supersedes the first entry: one entry, the newest document
    const items = outbox.peekBatch(10, 1 << 20);
    expect(items.map((i) => [i.seq, i.eventId, JSON.parse(i.json).hunt.count])).toEqual([[2, created!.doc.event.id, 2]]);
    expect(store.findings.get(created!.doc.event.id)?.count).toBe(2);
  });

  it('takes the write back when the sink throws: a finding is in the sink exactly when it is in the store', () => {
    const full = new Error('the outbox could not be written');
    let fail = true;
    const outbox = new Outbox(store.db);
    const sink = {
      put(doc: Parameters<Outbox['put']>[0], now: number): void {
        if (fail) throw full;
        outbox.put(doc, now);
      },
    };
    const rec = new FindingRecorder({ findings: store.findings, sink }, { name: 'h', id: store.db.agentId() }, 3_600_000);
    const t0 = Date.now();
    expect(() => rec.record([draft()], t0)).toThrow(full);
    expect(store.findings.list({})).toHaveLength(0);
    fail = false;
    const [created] = store.transaction(() => rec.record([draft()], t0 + 1000));
    expect(created!.isNew).toBe(true);
    fail = true;
    expect(() => store.transaction(() => rec.record([draft()], t0 + 2000))).toThrow(full);
    expect(store.findings.get(created!.doc.event.id)?.count).toBe(1);
    expect(outbox.pending()).toBe(1);
    expect(JSON.parse(outbox.peekBatch(1, 1 << 20)[0]!.json).hunt.count).toBe(1);
  });
});
