// The recorder keeps open findings in memory so that a repeat costs no query; a sample whose transaction rolls
// back must take those memories back with it, or the finding would be lost until its suppression window ends.
import { describe, expect, it } from 'vitest';
import { FindingRecorder } from '../../agent/recorder.js';
import { Outbox } from '../../store/agent/outbox.js';
import { draftsOf } from '../support/drafts.js';
import { agentStoreEach } from '../support/stores.js';

const fx = agentStoreEach();

function draft() {
  const [first] = draftsOf('nonstandard-port');
  if (!first) throw new Error('the scenario made no draft');
  return first;
}

const failedSample = new Error('a later write of the sample failed (SQLITE_FULL)');

describe('finding recorder', () => {
  it('forgets a new finding whose sample rolled back: the next sample creates it and queues it', () => {
    const outbox = new Outbox(fx.store.db);
    const rec = new FindingRecorder({ findings: fx.store.findings, sink: outbox }, { name: 'h', id: fx.store.db.agentId() }, 3_600_000);
    const t0 = Date.now();
    expect(() =>
      fx.store.transaction(() => {
        rec.record([draft()], t0);
        throw failedSample;
      }),
    ).toThrow(failedSample);
    expect(fx.store.findings.list({})).toHaveLength(0);
    expect(outbox.pending()).toBe(0);

    const out = fx.store.transaction(() => rec.record([draft()], t0 + 1000));
    expect(out).toHaveLength(1);
    expect(out[0]!.isNew).toBe(true);
    expect(out[0]!.doc.hunt.count).toBe(1);
    expect(fx.store.findings.list({})).toHaveLength(1);
    expect(outbox.pending()).toBe(1);
  });

  it('takes back a repeat whose sample rolled back: the count goes on from what was kept', () => {
    const rec = new FindingRecorder({ findings: fx.store.findings }, { name: 'h', id: fx.store.db.agentId() }, 3_600_000);
    const t0 = Date.now();
    const [created] = fx.store.transaction(() => rec.record([draft()], t0));
    expect(() =>
      fx.store.transaction(() => {
        expect(rec.record([draft()], t0 + 1000)[0]!.doc.hunt.count).toBe(2);
        throw failedSample;
      }),
    ).toThrow(failedSample);
    const [again] = fx.store.transaction(() => rec.record([draft()], t0 + 2000));
    expect(again!.isNew).toBe(false);
    expect(again!.doc.event.id).toBe(created!.doc.event.id);
    expect(again!.doc.hunt.count).toBe(2);
    expect(fx.store.findings.get(created!.doc.event.id)?.count).toBe(2);
  });

  it('makes a new finding when the open one’s row is gone', () => {
    const rec = new FindingRecorder({ findings: fx.store.findings }, { name: 'h', id: fx.store.db.agentId() }, 3_600_000);
    const t0 = Date.now();
    const [created] = fx.store.transaction(() => rec.record([draft()], t0));
    fx.store.db.sqlite.prepare('DELETE FROM findings').run();
    const [next] = fx.store.transaction(() => rec.record([draft()], t0 + 1000));
    expect(next!.isNew).toBe(true);
    expect(next!.doc.event.id).not.toBe(created!.doc.event.id);
    expect(fx.store.findings.list({})).toHaveLength(1);
  });

  it('puts every new finding and every repeat in the sink, in the transaction that writes it', () => {
    const outbox = new Outbox(fx.store.db);
    const rec = new FindingRecorder({ findings: fx.store.findings, sink: outbox }, { name: 'h', id: fx.store.db.agentId() }, 3_600_000);
    const t0 = Date.now();
    const [created] = fx.store.transaction(() => rec.record([draft()], t0));
    const [again] = fx.store.transaction(() => rec.record([draft()], t0 + 1000));
    expect(again!.doc.event.id).toBe(created!.doc.event.id);
    // the repeat supersedes the first entry: one entry, the newest document
    const items = outbox.peekBatch(10, 1 << 20);
    expect(items.map((i) => [i.seq, i.eventId, JSON.parse(i.json).hunt.count])).toEqual([[2, created!.doc.event.id, 2]]);
    expect(fx.store.findings.get(created!.doc.event.id)?.count).toBe(2);
  });

  it('takes the write back when the sink throws: a finding is in the sink exactly when it is in the store', () => {
    const full = new Error('the outbox could not be written');
    let fail = true;
    const outbox = new Outbox(fx.store.db);
    const sink = {
      put(doc: Parameters<Outbox['put']>[0], now: number): void {
        if (fail) throw full;
        outbox.put(doc, now);
      },
    };
    const rec = new FindingRecorder({ findings: fx.store.findings, sink }, { name: 'h', id: fx.store.db.agentId() }, 3_600_000);
    const t0 = Date.now();
    expect(() => rec.record([draft()], t0)).toThrow(full);
    expect(fx.store.findings.list({})).toHaveLength(0);
    fail = false;
    const [created] = fx.store.transaction(() => rec.record([draft()], t0 + 1000));
    expect(created!.isNew).toBe(true);
    fail = true;
    expect(() => fx.store.transaction(() => rec.record([draft()], t0 + 2000))).toThrow(full);
    expect(fx.store.findings.get(created!.doc.event.id)?.count).toBe(1);
    expect(outbox.pending()).toBe(1);
    expect(JSON.parse(outbox.peekBatch(1, 1 << 20)[0]!.json).hunt.count).toBe(1);
  });
});
