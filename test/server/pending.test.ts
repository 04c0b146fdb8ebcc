// Connections that have not completed their hello are limited per remote address (maxPendingPerIp,
// `--max-pending-per-ip`): the one over the limit is closed 4009 TOO_MANY_PENDING with a reason; a welcome or a
// close frees a place.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomUUID } from 'node:crypto';
import net from 'node:net';
import { CLOSE } from '../../core/protocol.js';
import { CLOSE_GRACE_MS } from '../../server/ingest.js';
import { ENROLL_SECRET, TestClient, hello, sleep, startTestServer, type TestServer } from '../support/server.js';

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

  it('keeps counting a refused connection whose peer ignores the close, until the server cuts it', async () => {
    // A raw client: upgrades, sends a first frame that is no hello, and never answers the server's close frame.
    const port = Number(new URL(server.url).port);
    const sockets: net.Socket[] = [];
    const rude = async (): Promise<{ socket: net.Socket; gone: Promise<void>; closeCode: () => number | null }> => {
      const socket = net.connect(port, '127.0.0.1');
      sockets.push(socket);
      let buf = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
      socket.on('error', () => undefined);
      const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await new Promise((resolve) => socket.once('connect', resolve));
      const key = randomUUID().replace(/-/g, '').slice(0, 22) + '==';
      socket.write(`GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const deadline = Date.now() + 5000;
      while (!buf.toString('latin1').includes(accept) && Date.now() < deadline) await sleep(5);
      const payload = Buffer.from('{"type":"nope"}');
      socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
      const closeCode = (): number | null => {
        const at = buf.indexOf(0x88, buf.indexOf('\r\n\r\n'));
        return at >= 0 && buf.length >= at + 4 ? buf.readUInt16BE(at + 2) : null;
      };
      return { socket, gone, closeCode };
    };
    try {
      const a = await rude();
      const b = await rude();
      const deadline = Date.now() + 5000;
      while ((a.closeCode() === null || b.closeCode() === null) && Date.now() < deadline) await sleep(10);
      expect([a.closeCode(), b.closeCode()]).toEqual([CLOSE.UNAUTHENTICATED, CLOSE.UNAUTHENTICATED]);
      // Both still hold their sockets: their places are still taken.
      const refused = await open();
      expect((await refused.closed).code).toBe(CLOSE.TOO_MANY_PENDING);
      // The server cuts them after its grace period, and then a new connection may wait for its hello.
      const t0 = Date.now();
      await Promise.all([a.gone, b.gone]);
      expect(Date.now() - t0).toBeLessThan(CLOSE_GRACE_MS + 3000);
      await connections(0);
      const c = await open();
      c.send(hello(randomUUID(), { enroll_secret: ENROLL_SECRET }));
      await c.next('welcome');
      c.close();
    } finally {
      for (const s of sockets) s.destroy();
    }
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
