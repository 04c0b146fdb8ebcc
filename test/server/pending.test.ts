// Connections that have not completed their hello are limited per remote address (maxPendingPerIp,
// `--max-pending-per-ip`): the one over the limit is closed 4009 TOO_MANY_PENDING with a reason; a welcome or a
// close frees a place.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { CLOSE } from '../../server/protocol.js';
import { ENROLL_SECRET, TestClient, hello, sleep, startTestServer, type TestServer } from './helpers.js';

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer({ maxPendingPerIp: 2 });
});
afterEach(async () => server.stop());

async function open(): Promise<TestClient> {
  const c = new TestClient(server.wsUrl);
  await c.opened;
  return c;
}

/** Waits until the server has seen `n` connections (closes are noticed asynchronously). */
async function connections(n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (server.app.stats.connections !== n && Date.now() < deadline) await sleep(10);
  expect(server.app.stats.connections).toBe(n);
}

describe('connections waiting for hello, per address', () => {
  it('closes the one over the limit with TOO_MANY_PENDING, and a welcome or a close frees a place', async () => {
    const a = await open();
    const b = await open();
    // The server has made both sessions by the time their upgrade was answered.
    const refused = await open();
    const closed = await refused.closed;
    expect(closed.code).toBe(CLOSE.TOO_MANY_PENDING);
    expect(closed.reason).toMatch(/^too many connections from \S+ waiting for hello \(at most 2\); retry later$/);
    expect(Buffer.byteLength(closed.reason)).toBeLessThanOrEqual(123);
    expect(server.app.stats.pendingRefused).toBe(1);

    // a is welcomed: it no longer counts, so another connection may wait.
    a.send(hello(randomUUID(), { enroll_secret: ENROLL_SECRET }));
    await a.next('welcome');
    const c = await open();
    c.send(hello(randomUUID(), { enroll_secret: ENROLL_SECRET }));
    await c.next('welcome');

    // b gives up without a hello: its place is free once the server has seen it go.
    b.close();
    await b.closed;
    await connections(2);
    const d = await open();
    const e = await open();
    const refusedAgain = await open();
    expect((await refusedAgain.closed).code).toBe(CLOSE.TOO_MANY_PENDING);
    expect(server.app.stats.pendingRefused).toBe(2);

    // Refused or timed-out hellos free their place too: d's hello is refused (wrong secret).
    d.send(hello(randomUUID(), { enroll_secret: 'not-the-secret' }));
    expect((await d.closed).code).toBe(CLOSE.UNAUTHENTICATED);
    await connections(3);
    const f = await open();
    f.send(hello(randomUUID(), { enroll_secret: ENROLL_SECRET }));
    await f.next('welcome');
    for (const x of [a, c, e, f]) x.close();
  });

  it('has a default that lets many agents connect at once from one address', async () => {
    const many = await startTestServer();
    try {
      const clients = await Promise.all(Array.from({ length: 50 }, () => new TestClient(many.wsUrl)).map(async (c) => (await c.opened, c)));
      expect(many.app.stats.pendingRefused).toBe(0);
      for (const c of clients) c.send(hello(randomUUID(), { enroll_secret: ENROLL_SECRET }));
      for (const c of clients) await c.next('welcome');
      for (const c of clients) c.close();
    } finally {
      await many.stop();
    }
  });
});
