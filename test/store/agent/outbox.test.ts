import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openAgentDb, openAgentStore, type AgentDb } from '../../../store/agent/index.js';
import { MIGRATIONS } from '../../../store/agent/migrations.js';
import { Outbox } from '../../../store/agent/outbox.js';
import { AgentIdentityStore, protectDatabaseFiles, serverOrigin } from '../../../store/agent/identity.js';
import { tempDirEach } from '../../support/tmp.js';
import { findingDoc } from '../../support/findings.js';

const tmp = tempDirEach();
let path: string;
const open: AgentDb[] = [];

function db(): AgentDb {
  const d = openAgentDb(path);
  open.push(d);
  return d;
}

beforeEach(() => {
  path = join(tmp.dir, 'agent.db');
});
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});

describe('outbox', () => {
  it('numbers entries with a sequence that survives a reopen and is never reused after acks', () => {
    let d = db();
    let ob = new Outbox(d);
    const a = ob.enqueue(findingDoc());
    const b = ob.enqueue(findingDoc());
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expect(ob.ack([1, 2])).toBe(2);
    expect(ob.pending()).toBe(0);
    d.close();
    d = db();
    ob = new Outbox(d);
    expect(ob.enqueue(findingDoc()).seq).toBe(3);
    expect(ob.counters()).toMatchObject({ pending: 1, lastSeq: 3, dropped: 0 });
  });

  it('keeps what was not acked across a reopen, in seq order, with the exact JSON', () => {
    let d = db();
    let ob = new Outbox(d);
    const docs = [findingDoc({ port: 1 }), findingDoc({ port: 2 }), findingDoc({ port: 3 })];
    for (const doc of docs) ob.enqueue(doc);
    ob.ack([2]);
    d.close();
    d = db();
    ob = new Outbox(d);
    const items = ob.peekBatch(10, 1 << 20);
    expect(items.map((i) => i.seq)).toEqual([1, 3]);
    expect(JSON.parse(items[1]!.json)).toEqual(docs[2]);
    expect(ob.bytes()).toBe(items.reduce((n, i) => n + i.bytes, 0));
  });

  it('supersedes older entries of the same event: one entry per finding, the newest', () => {
    const ob = new Outbox(db());
    const id = '11111111-2222-4333-8444-555555555555';
    ob.enqueue(findingDoc({ eventId: id, count: 1 }));
    const other = ob.enqueue(findingDoc());
    const r = ob.enqueue(findingDoc({ eventId: id, count: 2 }));
    expect(r).toMatchObject({ seq: 3, superseded: 1, dropped: 0 });
    const items = ob.peekBatch(10, 1 << 20);
    expect(items.map((i) => i.seq)).toEqual([other.seq, 3]);
    expect(JSON.parse(items[1]!.json).hunt.count).toBe(2);
    expect(ob.pending()).toBe(2);
    // an ack of the superseded seq (it may have been in flight) deletes nothing
    expect(ob.ack([1])).toBe(0);
  });

  it('when full drops the lowest risk first, then the oldest, and counts the drops (persisted)', () => {
    let d = db();
    let ob = new Outbox(d, { maxRows: 3 });
    const high = ob.enqueue(findingDoc({ risk: 'High' }));
    const low1 = ob.enqueue(findingDoc({ risk: 'Low' }));
    const medium = ob.enqueue(findingDoc({ risk: 'Medium' }));
    const low2 = ob.enqueue(findingDoc({ risk: 'Low' }));
    expect(low2.dropped).toBe(1); // low1, the older Low, went
    expect(ob.peekBatch(10, 1 << 20).map((i) => i.seq)).toEqual([high.seq, medium.seq, low2.seq]);
    const critical = ob.enqueue(findingDoc({ risk: 'Critical' }));
    expect(critical.dropped).toBe(1); // low2
    const low3 = ob.enqueue(findingDoc({ risk: 'Low' }));
    expect(low3.dropped).toBe(1); // itself: the lowest
    expect(ob.peekBatch(10, 1 << 20).map((i) => i.seq)).toEqual([high.seq, medium.seq, critical.seq]);
    expect(ob.dropped()).toBe(3);
    expect(low1.seq).toBe(2);
    d.close();
    d = db();
    ob = new Outbox(d, { maxRows: 3 });
    expect(ob.dropped()).toBe(3);
    expect(ob.pending()).toBe(3);
  });

  it('holds a byte cap too, and drops an entry larger than the item limit at once', () => {
    const ob = new Outbox(db(), { maxBytes: 6000, maxItemBytes: 4000 });
    ob.enqueue(findingDoc({ pad: 1500, risk: 'Medium' }));
    ob.enqueue(findingDoc({ pad: 1500, risk: 'Low' }));
    ob.enqueue(findingDoc({ pad: 1500, risk: 'Medium' }));
    expect(ob.bytes()).toBeLessThanOrEqual(6000);
    expect(ob.dropped()).toBe(1);
    const big = ob.enqueue(findingDoc({ pad: 5000, risk: 'Critical' }));
    expect(big.dropped).toBe(1);
    expect(ob.dropped()).toBe(2);
    expect(ob.peekBatch(10, 1 << 20).every((i) => JSON.parse(i.json).hunt.risk === 'Medium')).toBe(true);
  });

  it('peekBatch limits items and bytes but always returns one entry, and reads after a cursor', () => {
    const ob = new Outbox(db());
    for (let i = 0; i < 5; i++) ob.enqueue(findingDoc({ pad: 1000 }));
    expect(ob.peekBatch(2, 1 << 20).map((i) => i.seq)).toEqual([1, 2]);
    expect(ob.peekBatch(10, 10).map((i) => i.seq)).toEqual([1]);
    const size = ob.peekBatch(1, 1 << 20)[0]!.bytes;
    expect(ob.peekBatch(10, 2 * size + 10).length).toBe(2);
    expect(ob.peekBatch(10, 1 << 20, 3).map((i) => i.seq)).toEqual([4, 5]);
  });

  it('reject deletes and counts apart from drops', () => {
    const ob = new Outbox(db());
    ob.enqueue(findingDoc());
    ob.enqueue(findingDoc());
    expect(ob.reject([1, 99])).toBe(1);
    expect(ob.counters()).toMatchObject({ pending: 1, rejected: 1, dropped: 0 });
  });

  it('tells listeners after the commit, never for a rolled-back enqueue', () => {
    const d = db();
    const ob = new Outbox(d);
    const heard: number[] = [];
    ob.onEnqueue((dropped) => heard.push(dropped));
    d.transaction(() => {
      ob.enqueue(findingDoc());
      expect(heard).toEqual([]);
    });
    expect(heard).toEqual([0]);
    expect(() =>
      d.transaction(() => {
        ob.enqueue(findingDoc());
        throw new Error('sample failed');
      }),
    ).toThrow();
    expect(heard).toEqual([0]);
    expect(ob.pending()).toBe(1);
    expect(ob.counters().lastSeq).toBe(1);
  });

  it('refuses a document without event.id', () => {
    const ob = new Outbox(db());
    expect(() => ob.enqueue({ hunt: { risk: 'Low' } })).toThrow(/event\.id/);
  });
});

describe('the outbox as the recorder\'s finding sink', () => {
  it('put queues the document in the caller\'s transaction: a sample that rolls back leaves no entry', () => {
    const store = openAgentStore(path);
    try {
      const outbox = new Outbox(store.db);
      const doc = findingDoc();
      expect(() =>
        store.transaction(() => {
          outbox.put(doc, 1);
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(outbox.pending()).toBe(0);
      store.transaction(() => outbox.put(doc, 2));
      outbox.put(findingDoc({ eventId: doc.event.id, count: 2 }), 3);
      expect(outbox.peekBatch(10, 1 << 20).map((i) => [i.eventId, JSON.parse(i.json).hunt.count])).toEqual([[doc.event.id, 2]]);
    } finally {
      store.close();
    }
  });
});

describe('migration 2', () => {
  it('upgrades a version 1 database in place, keeping its data', () => {
    const v1 = openAgentDb(path, { migrations: MIGRATIONS.slice(0, 1) });
    const id = v1.agentId();
    v1.setMeta('baseline.learning_ms', '1234');
    v1.close();
    const d = db();
    expect(d.schemaVersion()).toBe(MIGRATIONS.length);
    expect(d.agentId()).toBe(id);
    expect(d.getMeta('baseline.learning_ms')).toBe('1234');
    expect(new Outbox(d).counters()).toEqual({ pending: 0, bytes: 0, dropped: 0, rejected: 0, lastSeq: 0 });
  });
});

describe('agent identity', () => {
  it('keeps one token per server origin and makes the database files private', () => {
    const d = db();
    const ids = new AgentIdentityStore(d);
    const origin = serverOrigin(new URL('wss://Server.Example/agent'));
    expect(origin).toBe('wss://server.example:443');
    expect(serverOrigin(new URL('ws://127.0.0.1:8080'))).toBe('ws://127.0.0.1:8080');
    expect(ids.token(origin)).toBeNull();
    ids.setToken(origin, 'a'.repeat(32));
    expect(ids.token(origin)).toBe('a'.repeat(32));
    expect(ids.token('wss://other.example:443')).toBeNull();
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect(statSync(f).mode & 0o777).toBe(0o600);
    protectDatabaseFiles(path);
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT count(*) FROM server_identity').pluck().get()).toBe(1);
    raw.close();
  });
});
