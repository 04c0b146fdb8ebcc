import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { CLOSE } from '../../core/protocol.js';
import { API_TOKEN, ENROLL_SECRET, TestClient, api, connectAgent, hello, sleep, startTestServer, type TestServer } from '../support/server.js';
import { finding } from '../support/findings.js';

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await server.stop();
});

function rows(sql: string, ...args: unknown[]): any[] {
  const db = new Database(server.dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...args);
  } finally {
    db.close();
  }
}

describe('enrollment and authentication', () => {
  it('enrolls with the secret, sends the token once, and takes the token on reconnect', async () => {
    const agentId = randomUUID();
    const first = await connectAgent(server, agentId);
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    first.client.close();
    await first.client.closed;

    const again = new TestClient(server.wsUrl);
    await again.opened;
    again.send(hello(agentId, { token: first.token }));
    const welcome = await again.next('welcome');
    expect(welcome.agent_id).toBe(agentId);
    expect(welcome.protocol).toBe(1);
    expect(welcome.token).toBeUndefined();
    expect(welcome.allow).toEqual([]);
    again.close();

    // Only the token's SHA-256 is stored.
    const [host] = rows('SELECT token_hash FROM hosts WHERE agent_id = ?', agentId);
    expect(host.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(host.token_hash).not.toContain(first.token);
    const audit = await api(server, 'GET', '/api/audit?action=host.enroll');
    expect(audit.json.entries[0].target).toBe(agentId);
  });

  it('refuses a wrong secret, an unknown token, and a token presented for another agent id', async () => {
    const c1 = new TestClient(server.wsUrl);
    await c1.opened;
    c1.send(hello(randomUUID(), { enroll_secret: 'not-the-secret' }));
    expect((await c1.closed).code).toBe(CLOSE.UNAUTHENTICATED);

    const c2 = new TestClient(server.wsUrl);
    await c2.opened;
    c2.send(hello(randomUUID(), { token: 'x'.repeat(43) }));
    expect(await c2.closed).toMatchObject({ code: CLOSE.UNAUTHENTICATED, reason: 'unknown token' });

    const a = await connectAgent(server);
    const c3 = new TestClient(server.wsUrl);
    await c3.opened;
    c3.send(hello(randomUUID(), { token: a.token }));
    expect((await c3.closed).code).toBe(CLOSE.IDENTITY_MISMATCH);

    // An enrolled id cannot be enrolled again (that would hand its identity to whoever has the secret).
    const c4 = new TestClient(server.wsUrl);
    await c4.opened;
    c4.send(hello(a.agentId, { enroll_secret: ENROLL_SECRET }));
    expect((await c4.closed).code).toBe(CLOSE.UNAUTHENTICATED);
    // …nor present someone else's id with a token that does not match it.
    const other = await connectAgent(server);
    const c5 = new TestClient(server.wsUrl);
    await c5.opened;
    // (a different last character: replacing it with the one it already has would be the same token)
    c5.send(hello(a.agentId, { token: `${other.token.slice(0, -1)}${other.token.endsWith('A') ? 'B' : 'A'}` }));
    expect(await c5.closed).toMatchObject({ code: CLOSE.UNAUTHENTICATED, reason: 'agent id enrolled with a different token' });
    a.client.close();
    other.client.close();
  });

  it('closes with UNSUPPORTED_VERSION when no protocol version is shared, and HELLO_TIMEOUT without hello', async () => {
    const c = new TestClient(server.wsUrl);
    await c.opened;
    c.send(hello(randomUUID(), { enroll_secret: ENROLL_SECRET }, { protocol: [7, 9] }));
    const closed = await c.closed;
    expect(closed.code).toBe(CLOSE.UNSUPPORTED_VERSION);
    expect(closed.reason).toContain('agent speaks 7,9, server 1');

    const quick = await startTestServer({ helloTimeoutMs: 200 });
    try {
      const silent = new TestClient(quick.wsUrl);
      await silent.opened;
      expect((await silent.closed).code).toBe(CLOSE.HELLO_TIMEOUT);
    } finally {
      await quick.stop();
    }
  });

  it('picks the highest common version', async () => {
    const c = new TestClient(server.wsUrl);
    await c.opened;
    c.send(hello(randomUUID(), { enroll_secret: ENROLL_SECRET }, { protocol: [3, 1, 2] }));
    expect((await c.next('welcome')).protocol).toBe(1);
    c.close();
  });

  it('a second connection of the same agent replaces the first (REPLACED)', async () => {
    const a = await connectAgent(server);
    const b = new TestClient(server.wsUrl);
    await b.opened;
    b.send(hello(a.agentId, { token: a.token }));
    await b.next('welcome');
    expect((await a.client.closed).code).toBe(CLOSE.REPLACED);
    // The replaced socket's close does not mark the agent offline.
    await sleep(50);
    const hosts = await api(server, 'GET', '/api/hosts');
    expect(hosts.json.hosts.find((h: any) => h.id === a.agentId).online).toBe(true);
    b.send({ type: 'findings', items: [{ seq: 1, finding: finding({ agentId: a.agentId }) }] });
    expect((await b.next('ack')).seqs).toEqual([1]);
    b.close();
    await b.closed;
    await sleep(50);
    const after = await api(server, 'GET', '/api/hosts');
    expect(after.json.hosts.find((h: any) => h.id === a.agentId).online).toBe(false);
  });

  it('a revoked agent is disconnected with REVOKED and cannot come back; its findings stay', async () => {
    const a = await connectAgent(server);
    a.client.send({ type: 'findings', items: [{ seq: 1, finding: finding({ agentId: a.agentId }) }] });
    await a.client.next('ack');
    const res = await api(server, 'DELETE', `/api/hosts/${a.agentId}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ revoked: true, disconnected: true });
    expect((await a.client.closed).code).toBe(CLOSE.REVOKED);

    const back = new TestClient(server.wsUrl);
    await back.opened;
    back.send(hello(a.agentId, { token: a.token }));
    expect((await back.closed).code).toBe(CLOSE.REVOKED);
    const reenroll = new TestClient(server.wsUrl);
    await reenroll.opened;
    reenroll.send(hello(a.agentId, { enroll_secret: ENROLL_SECRET }));
    expect((await reenroll.closed).code).toBe(CLOSE.REVOKED);

    const list = await api(server, 'GET', `/api/findings?host=${a.agentId}`);
    expect(list.json.findings).toHaveLength(1);
  });
});

describe('findings batches', () => {
  it('stores a re-sent batch exactly once (lost ack) and acks it again', async () => {
    const a = await connectAgent(server);
    const items = [1, 2, 3].map((seq) => ({ seq, finding: finding({ agentId: a.agentId, ip: `198.51.100.${seq}` }) }));
    a.client.send({ type: 'findings', items });
    expect((await a.client.next('ack')).seqs).toEqual([1, 2, 3]);
    // The agent never saw that ack: it reconnects and sends the same batch again.
    a.client.close();
    await a.client.closed;
    const again = await connectAgent(server, a.agentId, { token: a.token });
    again.client.send({ type: 'findings', items });
    expect((await again.client.next('ack')).seqs).toEqual([1, 2, 3]);
    expect(server.app.stats.duplicates).toBe(3);
    expect(rows('SELECT count(*) AS n FROM findings')[0].n).toBe(3);
    // Seqs are recorded as runs: 1–3 is one.
    expect(rows('SELECT lo, hi FROM seq_runs WHERE host_no = (SELECT host_no FROM hosts WHERE agent_id = ?)', a.agentId)).toEqual([{ lo: 1, hi: 3 }]);
    again.client.close();
  });

  it('upserts an updated finding (same event id, new seq, higher count) and ignores an older version', async () => {
    const a = await connectAgent(server);
    const eventId = randomUUID();
    const v1 = finding({ agentId: a.agentId, eventId, count: 1, lastSeen: '2026-11-28T10:00:00.000Z' });
    a.client.send({ type: 'findings', items: [{ seq: 1, finding: v1 }] });
    await a.client.next('ack');
    const patched = await api(server, 'PATCH', `/api/findings/${eventId}`, { status: 'investigating', assignee: 'ana' });
    expect(patched.status).toBe(200);

    const v2 = finding({ agentId: a.agentId, eventId, count: 7, lastSeen: '2026-11-28T11:30:00.000Z' });
    a.client.send({ type: 'findings', items: [{ seq: 2, finding: v2 }] });
    expect((await a.client.next('ack')).seqs).toEqual([2]);
    let got = (await api(server, 'GET', `/api/findings/${eventId}`)).json.finding;
    expect(got.hunt.count).toBe(7);
    expect(got.hunt.last_seen).toBe('2026-11-28T11:30:00.000Z');
    expect(got.hunt.first_seen).toBe('2026-11-28T09:00:00.000Z');
    // Triage survives the update.
    expect(got.sockhunt).toMatchObject({ status: 'investigating', assignee: 'ana', seq: 2 });

    // A late, older version (count 3) arrives after the newer one: acked, not applied.
    const old = finding({ agentId: a.agentId, eventId, count: 3, lastSeen: '2026-11-28T10:30:00.000Z' });
    a.client.send({ type: 'findings', items: [{ seq: 3, finding: old }] });
    expect((await a.client.next('ack')).seqs).toEqual([3]);
    got = (await api(server, 'GET', `/api/findings/${eventId}`)).json.finding;
    expect(got.hunt.count).toBe(7);
    expect(rows('SELECT count(*) AS n FROM findings')[0].n).toBe(1);
    a.client.close();
  });

  it('keeps agent-set fleet fields out: the server decides hunt.fleet and endpoint_risk', async () => {
    const a = await connectAgent(server);
    const doc = finding({ agentId: a.agentId, risk: 'High', score: 0.7 });
    (doc.hunt as any).fleet = { hosts: 999, prevalence: 0.9, modifier: -1, reason: 'trust me' };
    (doc.hunt as any).endpoint_risk = 'Low';
    a.client.send({ type: 'findings', items: [{ seq: 1, finding: doc }] });
    await a.client.next('ack');
    const got = (await api(server, 'GET', `/api/findings/${doc.event.id}`)).json.finding;
    expect(got.hunt.endpoint_risk).toBe('High');
    expect(got.hunt.fleet.hosts).toBe(1);
    expect(got.hunt.fleet.reason).not.toContain('trust me');
    const [stored] = rows('SELECT doc FROM findings WHERE event_id = ?', doc.event.id);
    expect(JSON.parse(stored.doc).hunt.fleet).toBeUndefined();
    a.client.close();
  });

  it('records heartbeats (last seen, outbox) and answers ws pings', async () => {
    const quick = await startTestServer({ presenceFlushMs: 50, pingIntervalMs: 100 });
    try {
      const a = await connectAgent(quick);
      let pings = 0;
      a.client.ws.on('ping', () => pings++);
      a.client.send({ type: 'heartbeat', ts: Date.now(), outbox: { pending: 12, dropped: 3 } });
      await sleep(400);
      const hosts = await api(quick, 'GET', '/api/hosts');
      expect(hosts.json.hosts[0].outbox).toEqual({ pending: 12, dropped: 3 });
      expect(pings).toBeGreaterThanOrEqual(2);
      a.client.close();
    } finally {
      await quick.stop();
    }
  });

  it('terminates a socket that stops answering pings', async () => {
    const quick = await startTestServer({ pingIntervalMs: 100 });
    try {
      const a = await connectAgent(quick);
      // Stop the client's automatic pong by pausing its socket: the server sees silence.
      const socket = (a.client.ws as unknown as { _socket: import('node:net').Socket })._socket;
      socket.pause();
      const deadline = Date.now() + 5000;
      while (quick.app.hub.size > 0 && Date.now() < deadline) await sleep(20);
      expect(quick.app.hub.size).toBe(0);
      socket.resume();
      expect((await a.client.closed).code).toBe(1006);
    } finally {
      await quick.stop();
    }
  });

  it('commits batches of many agents at once and acks each only after its commit', async () => {
    const agents = await Promise.all(Array.from({ length: 20 }, () => connectAgent(server)));
    let seq = 0;
    for (const a of agents) {
      a.client.send({ type: 'findings', items: Array.from({ length: 50 }, () => ({ seq: ++seq, finding: finding({ agentId: a.agentId, ip: `203.0.113.${seq % 250}` }) })) });
    }
    const acks = await Promise.all(agents.map((a) => a.client.next('ack')));
    expect(acks.reduce((n, a) => n + a.seqs.length, 0)).toBe(1000);
    expect(rows('SELECT count(*) AS n FROM findings')[0].n).toBe(1000);
    for (const a of agents) a.client.close();
  });
});

describe('the API token guards the REST API only', () => {
  it('healthz answers without a token', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).status).toBe('ok');
    expect(API_TOKEN).toBeTruthy();
  });
});
