// kill -9 of the server in the middle of a stream, restart on the same database: every finding that was
// acked is there (an ack is sent only after its commit), and the agent's resend of unacked batches stores
// each finding exactly once.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { API_TOKEN, ENROLL_SECRET, TestClient, hello, sleep } from '../support/server.js';
import { finding } from '../support/findings.js';
import { tempDir } from '../support/tmp.js';

const ENTRY = fileURLToPath(new URL('./fixtures/crash-server.ts', import.meta.url));
const children: ChildProcess[] = [];
let tmp: ReturnType<typeof tempDir> | null = null;

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, 'SIGKILL');
  tmp?.remove();
  tmp = null;
});

async function startChild(db: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, db, ENROLL_SECRET, API_TOKEN], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('server child did not start')), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => reject(new Error(`server child exited ${code}`)));
  });
  return { child, url: `ws://127.0.0.1:${port}/ws` };
}

describe('crash safety', () => {
  it('loses nothing committed when the server is killed with SIGKILL mid-stream', async () => {
    tmp = tempDir();
    const db = path.join(tmp.dir, 'server.db');
    const agentId = randomUUID();
    const first = await startChild(db);

    const client = new TestClient(first.url);
    await client.opened;
    client.send(hello(agentId, { enroll_secret: ENROLL_SECRET }));
    const token = (await client.next('welcome')).token!;

    // Stream batches of 50 with up to 8 unacked, as an agent's outbox would, until the kill.
    const batches = new Map<number, Array<{ seq: number; finding: ReturnType<typeof finding> }>>();
    const acked = new Set<number>();
    let seq = 0;
    const sendBatch = (): void => {
      const items = Array.from({ length: 50 }, () => ({ seq: ++seq, finding: finding({ agentId, ip: `198.51.100.${seq % 250}` }) }));
      batches.set(items[0]!.seq, items);
      client.send({ type: 'findings', items });
    };
    client.ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.type !== 'ack') return;
      for (const s of msg.seqs) acked.add(s);
      if (client.ws.readyState === client.ws.OPEN) sendBatch();
    });
    for (let i = 0; i < 8; i++) sendBatch();
    while (acked.size < 2000) await sleep(5);
    process.kill(first.child.pid!, 'SIGKILL');
    await client.closed;
    const ackedAtKill = new Set(acked);
    expect(seq).toBeGreaterThan(ackedAtKill.size);

    const second = await startChild(db);
    const check = new Database(db, { readonly: true });
    const stored = new Set((check.prepare('SELECT seq FROM findings').all() as Array<{ seq: number }>).map((r) => r.seq));
    check.close();
    for (const s of ackedAtKill) expect(stored.has(s), `acked seq ${s} lost`).toBe(true);

    // The agent comes back and resends every batch it holds no ack for, in full.
    const again = new TestClient(second.url);
    await again.opened;
    again.send(hello(agentId, { token }));
    await again.next('welcome');
    const resend = [...batches.values()].filter((items) => items.some((i) => !ackedAtKill.has(i.seq)));
    for (const items of resend) {
      again.send({ type: 'findings', items });
      await again.next('ack', (m) => m.seqs.includes(items[0]!.seq), 10_000);
    }
    const after = new Database(db, { readonly: true });
    const total = (after.prepare('SELECT count(*) AS n, count(DISTINCT seq) AS d FROM findings').get() as { n: number; d: number });
    after.close();
    expect(total.n).toBe(seq);
    expect(total.d).toBe(seq);
    again.close();
    process.kill(second.child.pid!, 'SIGKILL');
  });
});
