// Bad input from the network: each case gets its error or close code, nothing bad is stored, and a
// well-behaved agent keeps being served meanwhile. Runs with the frame-validation worker, as in production.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { CLOSE, MAX_PAYLOAD } from '../../core/protocol.js';
import { MAX_HELLO_BYTES } from '../../server/ingest.js';
import { TestClient, api, connectAgent, hello, sleep, startTestServer, type TestServer } from '../support/server.js';
import { finding } from '../support/findings.js';

let server: TestServer;
let good: Awaited<ReturnType<typeof connectAgent>>;
let goodSeq = 0;
let stopGood = false;
let goodAcked = 0;
let goodLoop: Promise<void>;

/** The well-behaved agent: a batch every 20 ms for the whole file, each acked. */
async function keepStreaming(): Promise<void> {
  while (!stopGood) {
    const seq = ++goodSeq;
    good.client.send({ type: 'findings', items: [{ seq, finding: finding({ agentId: good.agentId, ip: '192.0.2.77' }) }] });
    const ack = await good.client.next('ack', (m) => m.seqs.includes(seq), 5000);
    goodAcked += ack.seqs.length;
    await sleep(20);
  }
}

beforeAll(async () => {
  server = await startTestServer({ validateWorkers: 1 });
  expect(server.app.validatorWorkers).toBe(1);
  good = await connectAgent(server);
  goodLoop = keepStreaming();
});

afterAll(async () => {
  stopGood = true;
  await goodLoop;
  // The worker survived everything above.
  expect(server.app.validatorWorkers).toBe(1);
  good.client.close();
  await server.stop();
});

function count(sql: string, ...args: unknown[]): number {
  const db = new Database(server.dbPath, { readonly: true });
  try {
    return (db.prepare(sql).get(...args) as { n: number }).n;
  } finally {
    db.close();
  }
}

async function expectGoodStillServed(): Promise<void> {
  const before = goodAcked;
  const deadline = Date.now() + 5000;
  while (goodAcked <= before && Date.now() < deadline) await sleep(10);
  expect(goodAcked).toBeGreaterThan(before);
}

describe('before authentication', () => {
  it('a findings batch as the first frame: error, then close UNAUTHENTICATED; nothing stored', async () => {
    const agentId = randomUUID();
    const c = new TestClient(server.wsUrl);
    await c.opened;
    c.send({ type: 'findings', items: [{ seq: 1, finding: finding({ agentId }) }] });
    const err = await c.next('error');
    expect(err.code).toBe('SOCKHUNT_E_PROTO_STATE');
    expect((await c.closed).code).toBe(CLOSE.UNAUTHENTICATED);
    expect(count('SELECT count(*) AS n FROM findings WHERE host_no = (SELECT host_no FROM hosts WHERE agent_id = ?)', agentId)).toBe(0);
    await expectGoodStillServed();
  });

  it('a first frame larger than a hello is refused unread: close UNAUTHENTICATED', async () => {
    const c = new TestClient(server.wsUrl);
    await c.opened;
    // Valid JSON nested 200,000 deep (costly to parse): never parsed, since no hello is this large.
    c.sendRaw(`{"type":"hello","x":${'['.repeat(200_000)}${']'.repeat(200_000)}}`);
    const err = await c.next('error');
    expect(err.code).toBe('SOCKHUNT_E_PROTO_STATE');
    expect(err.message).toContain(`at most ${MAX_HELLO_BYTES} bytes`);
    expect((await c.closed).code).toBe(CLOSE.UNAUTHENTICATED);
    await expectGoodStillServed();
  });

  it('malformed JSON or a binary frame first: close UNAUTHENTICATED', async () => {
    const c = new TestClient(server.wsUrl);
    await c.opened;
    c.sendRaw('{"type":"hello",');
    expect((await c.next('error')).code).toBe('SOCKHUNT_E_PROTO_JSON');
    expect((await c.closed).code).toBe(CLOSE.UNAUTHENTICATED);
    const b = new TestClient(server.wsUrl);
    await b.opened;
    b.sendRaw(Buffer.from([1, 2, 3]), true);
    expect((await b.closed).code).toBe(CLOSE.UNAUTHENTICATED);
  });

  it('a hello with wrong types: error PROTO_SCHEMA naming the field, close UNAUTHENTICATED', async () => {
    const c = new TestClient(server.wsUrl);
    await c.opened;
    c.send({ ...hello('not-a-uuid', { enroll_secret: 'x' }) });
    const err = await c.next('error');
    expect(err.code).toBe('SOCKHUNT_E_PROTO_SCHEMA');
    expect(err.message).toContain('agent.id');
    expect((await c.closed).code).toBe(CLOSE.UNAUTHENTICATED);
    expect(count('SELECT count(*) AS n FROM hosts WHERE agent_id = ?', 'not-a-uuid')).toBe(0);
  });
});

describe('after authentication', () => {
  it('malformed JSON and wrong types get errors; the connection stays and valid items of a batch are kept', async () => {
    const a = await connectAgent(server);
    a.client.sendRaw('{"type":"findings","items":[');
    expect((await a.client.next('error')).code).toBe('SOCKHUNT_E_PROTO_JSON');
    a.client.send({ type: 'heartbeat', ts: 'now', outbox: { pending: -1, dropped: 0 } });
    expect((await a.client.next('error')).code).toBe('SOCKHUNT_E_PROTO_SCHEMA');
    a.client.send({ type: 'findings', items: [{ seq: '1', finding: {} }] });
    expect((await a.client.next('error')).code).toBe('SOCKHUNT_E_PROTO_SCHEMA');

    const ok = finding({ agentId: a.agentId });
    const bad = { ...finding({ agentId: a.agentId }), hunt: { ...finding({ agentId: a.agentId }).hunt, risk: 'Extreme' } };
    a.client.send({ type: 'findings', items: [{ seq: 10, finding: ok }, { seq: 11, finding: bad }] });
    const err = await a.client.next('error');
    expect(err).toMatchObject({ code: 'SOCKHUNT_E_PROTO_SCHEMA', seqs: [11] });
    expect(err.message).toContain('hunt.risk');
    expect((await a.client.next('ack')).seqs).toEqual([10]);
    expect(count('SELECT count(*) AS n FROM findings WHERE host_no = (SELECT host_no FROM hosts WHERE agent_id = ?)', a.agentId)).toBe(1);
    a.client.send(hello(a.agentId, { token: a.token }));
    expect((await a.client.next('error')).code).toBe('SOCKHUNT_E_PROTO_STATE');
    a.client.close();
    await expectGoodStillServed();
  });

  it('a finding nested thousands deep is refused by seq, the rest kept; the API keeps serving its pages', async () => {
    const a = await connectAgent(server);
    const ok = finding({ agentId: a.agentId, ip: '198.51.100.41' });
    // Evidence is free-form: the depth is the only thing wrong here. Sent as text (JSON.stringify cannot make it).
    const deep = JSON.stringify(finding({ agentId: a.agentId, ip: '198.51.100.42', evidence: [{ summary: 'DEEP' }] })).replace('"DEEP"', `${'['.repeat(6000)}1${']'.repeat(6000)}`);
    a.client.sendRaw(`{"type":"findings","items":[{"seq":1,"finding":${JSON.stringify(ok)}},{"seq":2,"finding":${deep}}]}`);
    const err = await a.client.next('error');
    expect(err).toMatchObject({ code: 'SOCKHUNT_E_PROTO_SCHEMA', seqs: [2] });
    expect(err.message).toContain('nested deeper than');
    expect((await a.client.next('ack')).seqs).toEqual([1]);
    // Not a findings batch: refused whole, the connection stays.
    a.client.sendRaw(`{"type":"heartbeat","ts":1,"outbox":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect((await a.client.next('error')).code).toBe('SOCKHUNT_E_PROTO_SCHEMA');
    const page = await api(server, 'GET', '/api/findings?limit=500');
    expect(page.status).toBe(200);
    const mine = (page.json.findings as Array<{ destination: { ip: string } }>).map((f) => f.destination.ip);
    expect(mine).toContain('198.51.100.41');
    expect(mine).not.toContain('198.51.100.42');
    a.client.close();
    await expectGoodStillServed();
  });

  it('an oversized frame closes with 1009 (maxPayload) before it is read', async () => {
    const a = await connectAgent(server);
    a.client.sendRaw('x'.repeat(MAX_PAYLOAD + 1));
    expect((await a.client.closed).code).toBe(CLOSE.TOO_BIG);
    await expectGoodStillServed();
  });

  it('a flood of messages gets PROTO_RATE, then the connection is closed RATE_LIMITED', async () => {
    const a = await connectAgent(server);
    const beat = JSON.stringify({ type: 'heartbeat', ts: 1, outbox: { pending: 0, dropped: 0 } });
    for (let i = 0; i < 600 && a.client.ws.readyState === a.client.ws.OPEN; i++) a.client.sendRaw(beat);
    const closed = await a.client.closed;
    expect(a.client.messages.some((m) => m.type === 'error' && m.code === 'SOCKHUNT_E_PROTO_RATE')).toBe(true);
    expect(closed.code).toBe(CLOSE.RATE_LIMITED);
    await expectGoodStillServed();
  });

  it('an agent claiming another host id gets PROTO_IDENTITY for those items; nothing of it is stored', async () => {
    const a = await connectAgent(server);
    const victim = good.agentId;
    const forged = finding({ agentId: victim, hostName: 'forged' });
    const own = finding({ agentId: a.agentId });
    a.client.send({ type: 'findings', items: [{ seq: 1, finding: forged }, { seq: 2, finding: own }] });
    expect((await a.client.next('ack')).seqs).toEqual([2]);
    const err = await a.client.next('error');
    expect(err).toMatchObject({ code: 'SOCKHUNT_E_PROTO_IDENTITY', seqs: [1] });
    expect(count('SELECT count(*) AS n FROM findings WHERE event_id = ?', forged.event.id)).toBe(0);
    expect(count("SELECT count(*) AS n FROM findings WHERE host_name = 'forged'")).toBe(0);

    // Overwriting another host's finding by reusing its event id (with its own host id) is refused too.
    const victimDoc = finding({ agentId: victim, ip: '192.0.2.99', count: 1 });
    good.client.send({ type: 'findings', items: [{ seq: 1_000_000, finding: victimDoc }] });
    await good.client.next('ack', (m) => m.seqs.includes(1_000_000));
    const hijack = finding({ agentId: a.agentId, eventId: victimDoc.event.id, count: 99, lastSeen: '2027-01-01T00:00:00.000Z' });
    a.client.send({ type: 'findings', items: [{ seq: 3, finding: hijack }] });
    expect((await a.client.next('error')).code).toBe('SOCKHUNT_E_PROTO_IDENTITY');
    expect(count('SELECT count AS n FROM findings WHERE event_id = ?', victimDoc.event.id)).toBe(1);
    expect(count('SELECT count(*) AS n FROM seq_runs WHERE host_no = (SELECT host_no FROM hosts WHERE agent_id = ?) AND lo <= 3 AND hi >= 3', a.agentId)).toBe(0);
    a.client.close();
    await expectGoodStillServed();
  });

  it('repeated garbage (10 bad frames in a minute) closes with GARBAGE', async () => {
    const a = await connectAgent(server);
    for (let i = 0; i < 12 && a.client.ws.readyState === a.client.ws.OPEN; i++) a.client.sendRaw(`nonsense ${i}`);
    expect((await a.client.closed).code).toBe(CLOSE.GARBAGE);
    expect(a.client.messages.filter((m) => m.type === 'error')).toHaveLength(10);
    await expectGoodStillServed();
  });

  it('survives mutated frames of every kind (fuzz) and keeps serving', async () => {
    const agentId = randomUUID();
    const first = await connectAgent(server, agentId);
    let token = first.token;
    let client = first.client;
    const base = JSON.stringify({ type: 'findings', items: [{ seq: 1, finding: finding({ agentId }) }] });
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const junk = ['{', '}', '[', ']', '"', ':', ',', 'null', '-1', '1e999', '\u0000', '\ud800', '"__proto__"', 'true', '9007199254740993'];
    for (let i = 0; i < 300; i++) {
      if (client.ws.readyState !== client.ws.OPEN) {
        const again = await connectAgent(server, agentId, { token });
        client = again.client;
        token = again.token;
      }
      let text = base;
      for (let k = 0; k < 1 + rand(4); k++) {
        const at = rand(text.length);
        const op = rand(3);
        if (op === 0) text = text.slice(0, at) + text.slice(at + 1 + rand(8));
        else if (op === 1) text = text.slice(0, at) + junk[rand(junk.length)] + text.slice(at);
        else text = text.slice(0, at) + String.fromCharCode(rand(0x3000)) + text.slice(at + 1);
      }
      client.sendRaw(text);
      if (i % 20 === 0) await sleep(5);
    }
    await sleep(200);
    client.close();
    await expectGoodStillServed();
    // Whatever was stored is a valid finding of this agent.
    const db = new Database(server.dbPath, { readonly: true });
    const docs = db.prepare('SELECT doc FROM findings WHERE host_no = (SELECT host_no FROM hosts WHERE agent_id = ?)').all(agentId) as Array<{ doc: string }>;
    db.close();
    for (const d of docs) expect(JSON.parse(d.doc).host.id.toLowerCase()).toBe(agentId);
  });
});
