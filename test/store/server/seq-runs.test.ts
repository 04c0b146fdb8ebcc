// Dedupe by (agent, seq) with seqs recorded as runs of consecutive seqs (store/server/migrations.ts V2): exactly
// once whatever order, gaps, repeats and resends batches come in — checked against a plain set of seqs — and
// databases of schema 1 (one row per seq) open with their seqs turned into runs.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { FindingDoc } from '../../../core/finding.js';
import { encodeBatch, prepareFinding } from '../../../server/frames.js';
import type { ServerStore } from '../../../store/server/contract.js';
import { openServerDb } from '../../../store/server/db.js';
import { SERVER_MIGRATIONS, SERVER_SCHEMA_VERSION } from '../../../store/server/migrations.js';
import { openSqliteServerStore } from '../../../store/server/sqlite.js';
import { HOST_FACTS } from '../../support/server.js';
import { finding } from '../../support/findings.js';
import { tempDirEach } from '../../support/tmp.js';

const tmp = tempDirEach();

async function enroll(store: ServerStore, agentId: string, now: number): Promise<void> {
  await store.enrollHost({ agentId, facts: HOST_FACTS, agentVersion: 't', tokenHash: randomUUID(), now }, { who: 't', action: 'host.enroll', target: agentId });
}

/** A deterministic pseudo-random sequence (the test repeats exactly). */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x / 2 ** 32;
  };
}

function runsOf(file: string, agentId: string): Array<{ lo: number; hi: number }> {
  const db = new Database(file, { readonly: true });
  const rows = db
    .prepare('SELECT lo, hi FROM seq_runs WHERE host_no = (SELECT host_no FROM hosts WHERE agent_id = ?) ORDER BY lo')
    .all(agentId) as Array<{ lo: number; hi: number }>;
  db.close();
  return rows;
}

describe('seqs recorded as runs', () => {
  it('stores each seq exactly once, however batches repeat, overlap, skip and come out of order', async () => {
    const file = path.join(tmp.dir, 'server.db');
    const store = openSqliteServerStore(file);
    const agentId = randomUUID();
    const now = Date.parse('2026-11-28T10:00:00Z');
    await enroll(store, agentId, now);
    const docs = new Map<number, FindingDoc>();
    const docOf = (seq: number): FindingDoc => {
      let d = docs.get(seq);
      if (!d) docs.set(seq, (d = finding({ agentId, ip: `198.51.${(seq >> 8) & 255}.${seq & 255}` })));
      return d;
    };
    const model = new Set<number>();
    const random = rng(7);
    let next = 1;
    for (let round = 0; round < 300; round++) {
      const seqs: number[] = [];
      const kind = random();
      if (kind < 0.5) {
        // the next ones, as an outbox sends them
        const n = 1 + Math.floor(random() * 20);
        for (let i = 0; i < n; i++) seqs.push(next++);
      } else if (kind < 0.7) {
        // a resend of earlier ones, some repeated inside the batch
        for (let i = 0; i < 10; i++) seqs.push(1 + Math.floor(random() * (next - 1 || 1)));
      } else if (kind < 0.85) {
        // ahead of the others (a gap), then later the gap is filled
        const skip = 1 + Math.floor(random() * 30);
        for (let i = 0; i < 5; i++) seqs.push(next + skip + i);
      } else {
        // far apart: one by one
        for (let i = 0; i < 4; i++) seqs.push(1 + Math.floor(random() * 1_000_000));
      }
      const result = await store.ingestBatch(agentId, encodeBatch(seqs.map((seq) => prepareFinding(seq, docOf(seq)))), now + round * 1000);
      const expectStored = new Set(seqs.filter((seq) => !model.has(seq)));
      expect(result.stored, `round ${round}: ${seqs.join(',')}`).toBe(expectStored.size);
      expect(result.duplicates).toBe(seqs.length - expectStored.size);
      expect(result.acked).toEqual(seqs);
      for (const seq of seqs) model.add(seq);
    }
    await store.close();
    const db = new Database(file, { readonly: true });
    const stored = (db.prepare('SELECT seq FROM findings ORDER BY seq').all() as Array<{ seq: number }>).map((r) => r.seq);
    db.close();
    expect(stored).toEqual([...model].sort((a, b) => a - b));
    // The runs cover exactly the seqs stored, without overlapping.
    const runs = runsOf(file, agentId);
    const covered: number[] = [];
    let last = 0;
    for (const r of runs) {
      expect(r.lo).toBeGreaterThan(last);
      for (let s = r.lo; s <= r.hi; s++) covered.push(s);
      last = r.hi;
    }
    expect(covered).toEqual(stored);
    expect(runs.length).toBeLessThan(stored.length / 2);
  });

  it('continues a run while the agent sends the next seqs, for an hour at most; a refused seq is not recorded', async () => {
    const file = path.join(tmp.dir, 'server.db');
    const store = openSqliteServerStore(file);
    const a = randomUUID();
    const b = randomUUID();
    const t = Date.parse('2026-11-28T10:00:00Z');
    await enroll(store, a, t);
    await enroll(store, b, t);
    const batch = (agentId: string, from: number, n: number) => encodeBatch(Array.from({ length: n }, (_, i) => prepareFinding(from + i, finding({ agentId }))));
    await store.ingestBatch(a, batch(a, 1, 100), t);
    await store.ingestBatch(a, batch(a, 101, 100), t + 1000);
    await store.ingestBatch(a, batch(a, 201, 100), t + 59 * 60_000);
    expect(runsOf(file, a)).toEqual([{ lo: 1, hi: 300 }]);
    // more than an hour after the run was last continued: a new run
    await store.ingestBatch(a, batch(a, 301, 10), t + 59 * 60_000 + 3_600_001);
    expect(runsOf(file, a)).toEqual([
      { lo: 1, hi: 300 },
      { lo: 301, hi: 310 },
    ]);
    // b reuses one of a's event ids with seq 3 between its own 2 and 4: 3 is refused and stays unrecorded
    const own = (seq: number) => prepareFinding(seq, finding({ agentId: b }));
    const theirs = (await store.listFindings({ host: a }, { limit: 1, cursor: null, sort: 'recent' })).items[0]!;
    const hijack = prepareFinding(3, { ...theirs.doc, host: { name: 'b', id: b } });
    const r = await store.ingestBatch(b, encodeBatch([own(1), own(2), hijack, own(4)]), t);
    expect(r.acked).toEqual([1, 2, 4]);
    expect(r.rejected.map((x) => x.seq)).toEqual([3]);
    expect(runsOf(file, b)).toEqual([
      { lo: 1, hi: 2 },
      { lo: 4, hi: 4 },
    ]);
    // its resend is refused again, not acked as a duplicate
    expect((await store.ingestBatch(b, encodeBatch([hijack]), t)).rejected.map((x) => x.seq)).toEqual([3]);
    await store.close();
  });

  it('opens a schema-1 database with its seqs turned into runs, and dedupes against them', async () => {
    const file = path.join(tmp.dir, 'server.db');
    const v1 = openServerDb(file, { migrations: SERVER_MIGRATIONS.slice(0, 1) });
    expect(v1.pragma('user_version', { simple: true })).toBe(1);
    v1.prepare("INSERT INTO hosts (host_no, agent_id, hostname, facts, agent_version, token_hash, enrolled_at, last_seen) VALUES (1, ?, 'a', '{}', 't', 'h1', 0, 0)").run(randomUUID());
    const agentId = randomUUID();
    v1.prepare("INSERT INTO hosts (host_no, agent_id, hostname, facts, agent_version, token_hash, enrolled_at, last_seen) VALUES (2, ?, 'b', ?, 't', 'h2', 0, 0)").run(
      agentId,
      JSON.stringify(HOST_FACTS),
    );
    const seen = v1.prepare('INSERT INTO seqs_seen (host_no, seq, seen_at) VALUES (?, ?, ?)');
    for (const seq of [1, 2, 3, 4, 5, 7, 9, 10]) seen.run(2, seq, 1000 + seq);
    seen.run(1, 3, 5);
    v1.close();

    const store = openSqliteServerStore(file);
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SERVER_SCHEMA_VERSION);
    expect(db.prepare('SELECT host_no, lo, hi, seen_at FROM seq_runs ORDER BY host_no, lo').all()).toEqual([
      { host_no: 1, lo: 3, hi: 3, seen_at: 5 },
      { host_no: 2, lo: 1, hi: 5, seen_at: 1005 },
      { host_no: 2, lo: 7, hi: 7, seen_at: 1007 },
      { host_no: 2, lo: 9, hi: 10, seen_at: 1010 },
    ]);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'seqs_seen'").get()).toEqual({ n: 0 });
    db.close();
    const r = await store.ingestBatch(agentId, encodeBatch([4, 6, 8, 10, 11].map((seq) => prepareFinding(seq, finding({ agentId })))), Date.now());
    expect(r).toMatchObject({ acked: [4, 6, 8, 10, 11], stored: 3, duplicates: 2 });
    // Retention counts the seqs it forgets (here: the runs migrated, seen at 5 to 1010 ms after the epoch).
    expect((await store.prune(5000, 90 * 86_400_000, 0)).seqs).toBe(1 + 5 + 1 + 2);
    await store.close();
  });
});
