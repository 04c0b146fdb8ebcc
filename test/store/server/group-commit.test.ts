// Group commit: batches of several agents that reach the store together are written in one transaction, and
// each batch is answered on its own — acked once, after the commit — with dedupe by (agent, seq) and upserts by
// event id exactly as when each batch had its own transaction.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { encodeBatch, prepareFinding } from '../../../server/frames.js';
import { openSqliteServerStore } from '../../../store/server/sqlite.js';
import type { ServerStore } from '../../../store/server/contract.js';
import { HOST_FACTS, connectAgent, startTestServer, type TestServer } from '../../support/server.js';
import { finding } from '../../support/findings.js';
import { tempDirEach } from '../../support/tmp.js';

const tmp = tempDirEach();

async function enroll(store: ServerStore, agentId: string, now: number): Promise<void> {
  await store.enrollHost(
    { agentId, facts: { ...HOST_FACTS, hostname: agentId.slice(0, 8) }, agentVersion: 'test', tokenHash: randomUUID(), now },
    { who: 'test', action: 'host.enroll', target: agentId },
  );
}

describe('group commit', () => {
  it('writes two agents’ batches in one transaction and answers each batch once', async () => {
    const commits: Array<{ batches: number; findings: number }> = [];
    const file = path.join(tmp.dir, 'server.db');
    const store = openSqliteServerStore(file, { onGroupCommit: (g) => commits.push(g) });
    const now = Date.parse('2026-11-28T10:00:00Z');
    const a = randomUUID();
    const b = randomUUID();
    await enroll(store, a, now);
    await enroll(store, b, now);
    const docsA = [finding({ agentId: a, ip: '198.51.100.1' }), finding({ agentId: a, ip: '198.51.100.2' })];
    const docsB = [finding({ agentId: b, ip: '198.51.100.1' }), finding({ agentId: b, ip: '198.51.100.3' }), finding({ agentId: b, ip: '198.51.100.4' })];
    const batchA = () => encodeBatch(docsA.map((d, i) => prepareFinding(i + 1, d)));
    const batchB = () => encodeBatch(docsB.map((d, i) => prepareFinding(i + 1, d)));

    const [ra, rb] = await Promise.all([store.ingestBatch(a, batchA(), now), store.ingestBatch(b, batchB(), now)]);
    expect(commits).toEqual([{ batches: 2, findings: 5 }]);
    expect(ra).toEqual({ acked: [1, 2], rejected: [], stored: 2, duplicates: 0 });
    expect(rb).toEqual({ acked: [1, 2, 3], rejected: [], stored: 3, duplicates: 0 });

    // Both agents lost their acks and resend, while a's first finding is updated (same event id, new seq):
    // one transaction again; the resends are duplicates, the update is stored.
    const update = prepareFinding(3, { ...docsA[0]!, hunt: { ...docsA[0]!.hunt, count: 2, last_seen: '2026-11-28T11:00:00.000Z' } });
    const [ra2, rb2, ru] = await Promise.all([
      store.ingestBatch(a, batchA(), now + 1000),
      store.ingestBatch(b, batchB(), now + 1000),
      store.ingestBatch(a, encodeBatch([update]), now + 1000),
    ]);
    expect(commits).toEqual([
      { batches: 2, findings: 5 },
      { batches: 3, findings: 6 },
    ]);
    expect(ra2).toEqual({ acked: [1, 2], rejected: [], stored: 0, duplicates: 2 });
    expect(rb2).toEqual({ acked: [1, 2, 3], rejected: [], stored: 0, duplicates: 3 });
    expect(ru).toEqual({ acked: [3], rejected: [], stored: 1, duplicates: 0 });

    // b sends a's event id: refused, never stored, in the same transaction as a's own new finding.
    const foreign = prepareFinding(4, { ...docsA[1]!, host: { name: 'b', id: b }, hunt: { ...docsA[1]!.hunt, count: 9, last_seen: '2026-11-28T12:00:00.000Z' } });
    const fresh = prepareFinding(4, finding({ agentId: a, ip: '198.51.100.5' }));
    const [rf, rn] = await Promise.all([store.ingestBatch(b, encodeBatch([foreign]), now + 2000), store.ingestBatch(a, encodeBatch([fresh]), now + 2000)]);
    expect(commits.at(-1)).toEqual({ batches: 2, findings: 2 });
    expect(rf.acked).toEqual([]);
    expect(rf.rejected).toMatchObject([{ seq: 4, code: 'SOCKHUNT_E_PROTO_IDENTITY' }]);
    expect(rn).toEqual({ acked: [4], rejected: [], stored: 1, duplicates: 0 });
    await store.close();

    const db = new Database(file, { readonly: true });
    const rows = db.prepare('SELECT event_id, count, seq FROM findings ORDER BY event_id').all() as Array<{ event_id: string; count: number; seq: number }>;
    db.close();
    expect(rows).toHaveLength(6);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(6);
    expect(rows.find((r) => r.event_id === docsA[0]!.event.id)).toMatchObject({ count: 2, seq: 3 });
    expect(rows.find((r) => r.event_id === docsA[1]!.event.id)).toMatchObject({ count: 1, seq: 2 });
  });

  it('fails every batch of a group whose store is closed, and acks nothing', async () => {
    const store = openSqliteServerStore(path.join(tmp.dir, 'server.db'));
    const a = randomUUID();
    await enroll(store, a, Date.now());
    const pending = store.ingestBatch(a, encodeBatch([prepareFinding(1, finding({ agentId: a }))]), Date.now());
    // close() commits what is waiting first: this batch is stored and acked.
    await store.close();
    expect((await pending).acked).toEqual([1]);
    await expect(store.ingestBatch(a, encodeBatch([prepareFinding(2, finding({ agentId: a }))]), Date.now())).rejects.toMatchObject({ code: 'SOCKHUNT_E_DB_WRITE' });
  });
});

describe('group commit over the wire', () => {
  let server: TestServer;
  const commits: Array<{ batches: number; findings: number }> = [];
  beforeEach(async () => {
    commits.length = 0;
    server = await startTestServer({}, undefined, { onGroupCommit: (g) => commits.push(g) });
  });
  afterEach(async () => server.stop());

  it('acks each agent’s batches once, whichever commits they shared', async () => {
    const agents = await Promise.all([connectAgent(server), connectAgent(server), connectAgent(server)]);
    const sent = new Map<string, number[]>();
    for (const [n, a] of agents.entries()) {
      for (let b = 0; b < 3; b++) {
        const items = Array.from({ length: 20 }, (_, i) => ({ seq: b * 20 + i + 1, finding: finding({ agentId: a.agentId, ip: `198.51.${n}.${b * 20 + i}` }) }));
        sent.set(a.agentId, [...(sent.get(a.agentId) ?? []), ...items.map((i) => i.seq)]);
        a.client.send({ type: 'findings', items });
      }
    }
    for (const a of agents) {
      const acked: number[] = [];
      for (let b = 0; b < 3; b++) acked.push(...(await a.client.next('ack')).seqs);
      expect(acked.sort((x, y) => x - y)).toEqual(sent.get(a.agentId));
      expect(a.client.messages.filter((m) => m.type === 'ack' || m.type === 'error')).toEqual([]);
    }
    expect(commits.reduce((n, c) => n + c.findings, 0)).toBe(180);
    for (const a of agents) a.client.close();
  });
});
