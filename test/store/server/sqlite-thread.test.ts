// The store on its own thread (store/server/sqlite-thread.ts), as `sockhunt server` runs it: the same answers as
// on the caller's thread, open errors thrown where it is opened, and a thread that dies in the middle loses
// nothing that was acked — its waiting calls fail (the agents resend) and a new thread takes the next call.
import { describe, expect, it, vi } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { SockhuntError } from '../../../core/errors.js';
import { encodeBatch, prepareFinding } from '../../../server/frames.js';
import type { ServerStore } from '../../../store/server/contract.js';
import { openSqliteServerStore } from '../../../store/server/sqlite.js';
import { ThreadedServerStore } from '../../../store/server/sqlite-thread.js';
import { openServerDb } from '../../../store/server/db.js';
import { startCheckpointer } from '../../../store/server/checkpoint.js';
import { HOST_FACTS, api, connectAgent, startTestServer } from '../../support/server.js';
import { finding } from '../../support/findings.js';
import { tempDirEach } from '../../support/tmp.js';

const tmp = tempDirEach();

async function enroll(store: ServerStore, agentId: string): Promise<void> {
  await store.enrollHost(
    { agentId, facts: HOST_FACTS, agentVersion: 'test', tokenHash: randomUUID(), now: Date.now() },
    { who: 'test', action: 'host.enroll', target: agentId },
  );
}

function worker(store: ServerStore): Worker {
  return (store as unknown as { worker: Worker }).worker;
}

function storedSeqs(file: string): number[] {
  const db = new Database(file, { readonly: true });
  const seqs = (db.prepare('SELECT seq FROM findings ORDER BY seq').all() as Array<{ seq: number }>).map((r) => r.seq);
  db.close();
  return seqs;
}

describe('store on its own thread', () => {
  it('serves ingest and the API like the store on the main thread', async () => {
    const server = await startTestServer({}, undefined, { thread: true });
    try {
      expect(server.store).toBeInstanceOf(ThreadedServerStore);
      const a = await connectAgent(server);
      const items = Array.from({ length: 30 }, (_, i) => ({ seq: i + 1, finding: finding({ agentId: a.agentId, ip: `198.51.100.${i}` }) }));
      a.client.send({ type: 'findings', items });
      expect((await a.client.next('ack')).seqs).toEqual(items.map((i) => i.seq));
      a.client.send({ type: 'findings', items });
      expect((await a.client.next('ack')).seqs).toEqual(items.map((i) => i.seq));
      const list = await api(server, 'GET', '/api/findings?limit=100');
      expect(list.json.findings).toHaveLength(30);
      const one = await api(server, 'GET', `/api/findings/${items[0]!.finding.event.id}`);
      expect(one.json.finding.hunt.id).toBe(items[0]!.finding.hunt.id);
      expect((await api(server, 'GET', '/api/hosts')).json.hosts[0]).toMatchObject({ online: true, findings: 30 });
      a.client.close();
    } finally {
      await server.stop();
    }
  });

  it('throws open errors where it is opened', () => {
    const junk = path.join(tmp.dir, 'junk.db');
    fs.writeFileSync(junk, 'x'.repeat(4096));
    let code = 'none';
    try {
      openSqliteServerStore(junk, { thread: true });
    } catch (err) {
      code = (err as SockhuntError).code;
    }
    expect(code).toBe('SOCKHUNT_E_DB_CORRUPT');
  });

  it('fails the calls of a thread that dies, keeps what it acked, and starts another', async () => {
    const file = path.join(tmp.dir, 'server.db');
    const store = openSqliteServerStore(file, { thread: true });
    const a = randomUUID();
    await enroll(store, a);
    const batch = (from: number) => encodeBatch(Array.from({ length: 10 }, (_, i) => prepareFinding(from + i, finding({ agentId: a, ip: `198.51.100.${from + i}` }))));
    expect((await store.ingestBatch(a, batch(1), Date.now())).acked).toHaveLength(10);

    // The thread dies with a batch on its way to it.
    const dying = worker(store);
    const killed = dying.terminate();
    const lost = store.ingestBatch(a, batch(11), Date.now());
    await expect(lost).rejects.toMatchObject({ code: 'SOCKHUNT_E_DB_WRITE' });
    await killed;

    // The agent resends: a new thread opens the database; each finding is stored once.
    const again = await store.ingestBatch(a, batch(11), Date.now());
    expect(again.acked).toEqual(Array.from({ length: 10 }, (_, i) => 11 + i));
    expect(worker(store)).not.toBe(dying);
    const resent = await store.ingestBatch(a, batch(11), Date.now());
    expect(resent).toMatchObject({ stored: 0, duplicates: 10 });
    await store.close();
    expect(storedSeqs(file)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('gives up on a thread that keeps dying, but not on deaths spread over time', async () => {
    const store = openSqliteServerStore(path.join(tmp.dir, 'server.db'), { thread: true });
    const die = async (): Promise<void> => {
      await store.activeHostCount(); // a live thread
      await worker(store).terminate();
    };
    try {
      // five deaths in a row: each time a new thread takes over
      for (let i = 0; i < 5; i++) await die();
      // the budget is per ten minutes: later deaths are recovered from too
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 11 * 60_000);
      await die();
      await expect(store.activeHostCount()).resolves.toBe(0);
      // but six within the window, and the store stops trying
      for (let i = 0; i < 5; i++) await die();
      await expect(store.activeHostCount()).rejects.toThrow(/keeps stopping/);
    } finally {
      vi.useRealTimers();
      await store.close().catch(() => undefined);
    }
  }, 60_000);

  it('answers every batch either acked and stored, or failed, when its thread dies mid-stream', async () => {
    const file = path.join(tmp.dir, 'server.db');
    const store = openSqliteServerStore(file, { thread: true });
    const a = randomUUID();
    await enroll(store, a);
    const items = Array.from({ length: 20 }, (_, b) => Array.from({ length: 25 }, (_, i) => prepareFinding(b * 25 + i + 1, finding({ agentId: a, ip: `198.51.${b}.${i}` }))));
    // (a batch's buffer moves to the thread: the agent's resend is a batch of its own)
    const batch = (b: number) => encodeBatch(items[b]!);
    const first = worker(store);
    const outcomes = items.map((_, b) => store.ingestBatch(a, batch(b), Date.now()).then((r) => r.acked, (err: unknown) => err as SockhuntError));
    // Killed while (some of) the batches are queued, written or answered: which ones is up to the scheduler.
    const killed = first.terminate();
    const results = await Promise.all(outcomes);
    await killed;
    const acked = results.flatMap((r) => (Array.isArray(r) ? r : []));
    for (const r of results) if (!Array.isArray(r)) expect(r.code).toBe('SOCKHUNT_E_DB_WRITE');
    // What was acked is in the database (committed before its ack).
    const after = new Set(storedSeqs(file));
    for (const s of acked) expect(after.has(s)).toBe(true);
    // Everything resent: stored exactly once in the end.
    for (let b = 0; b < items.length; b++) expect((await store.ingestBatch(a, batch(b), Date.now())).acked).toHaveLength(25);
    await store.close();
    expect(storedSeqs(file)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
  });

  it('commits what is waiting when closed', async () => {
    const file = path.join(tmp.dir, 'server.db');
    const store = openSqliteServerStore(file, { thread: true });
    const a = randomUUID();
    await enroll(store, a);
    const pending = store.ingestBatch(a, encodeBatch([prepareFinding(1, finding({ agentId: a }))]), Date.now());
    await store.close();
    expect((await pending).acked).toEqual([1]);
    expect(storedSeqs(file)).toEqual([1]);
    await expect(store.getSetting('x')).rejects.toMatchObject({ code: 'SOCKHUNT_E_DB_WRITE' });
  });

  it('checkpoints on a thread of its own: the committing connection only appends to the WAL', async () => {
    const file = path.join(tmp.dir, 'server.db');
    const store = openSqliteServerStore(file, { thread: true });
    const a = randomUUID();
    await enroll(store, a);
    for (let b = 0; b < 5; b++) {
      const items = Array.from({ length: 100 }, (_, i) => prepareFinding(b * 100 + i + 1, finding({ agentId: a, ip: `198.51.${b}.${i}` })));
      await store.ingestBatch(a, encodeBatch(items), Date.now());
    }
    // Within a few rounds of the checkpointing thread every frame of the WAL is in the database.
    const probe = new Database(file);
    const deadline = Date.now() + 10_000;
    let r = { busy: 1, log: 1, checkpointed: 0 };
    while (Date.now() < deadline) {
      // (a checkpoint of nothing new: it only reports where the other connection got to)
      r = (probe.pragma('wal_checkpoint(PASSIVE)') as Array<typeof r>)[0]!;
      if (r.log > 0 && r.checkpointed === r.log) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    probe.close();
    expect(r.log).toBeGreaterThan(0);
    expect(r.checkpointed).toBe(r.log);
    await store.close();
    expect(storedSeqs(file)).toHaveLength(500);
  });

  it('checkpointer: copies the WAL when it was written to, and does nothing when it was not', () => {
    const file = path.join(tmp.dir, 'server.db');
    const db = openServerDb(file, { checkpoints: 'elsewhere' });
    db.exec('CREATE TABLE t (x)');
    db.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(100_000));
    const checkpointer = startCheckpointer(file, 1000, 3_600_000);
    try {
      const r = checkpointer.run();
      expect(r).toMatchObject({ busy: 0 });
      expect(r!.log).toBeGreaterThan(0);
      expect(r!.checkpointed).toBe(r!.log);
      expect(checkpointer.run()).toBeNull();
    } finally {
      checkpointer.stop();
      db.close();
    }
  });

  it('checkpointer: a pass a reader held back is finished later, with no new write', () => {
    const file = path.join(tmp.dir, 'server.db');
    const db = openServerDb(file, { checkpoints: 'elsewhere' });
    db.exec('CREATE TABLE t (x)');
    db.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(100_000));
    const reader = new Database(file, { readonly: true });
    const checkpointer = startCheckpointer(file, 1000, 3_600_000);
    try {
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM t').get(); // a snapshot before the next write
      db.prepare('INSERT INTO t VALUES (?)').run('y'.repeat(100_000));
      const held = checkpointer.run()!;
      expect(held.checkpointed).toBeLessThan(held.log);
      reader.exec('COMMIT');
      const done = checkpointer.run()!;
      expect(done).not.toBeNull();
      expect(done.checkpointed).toBe(done.log);
      expect(checkpointer.run()).toBeNull();
    } finally {
      checkpointer.stop();
      reader.close();
      db.close();
    }
  });
});
