// The transport against the test server, in process, on 127.0.0.1 port 0: enrollment, token reuse, acks,
// lost acks, cut and frozen links, permanent refusals, garbage, requests, TLS with a CA or a pin, flush on stop.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createHash } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { openAgentStore, type AgentStore } from '../../../store/agent/index.js';
import { Outbox } from '../../../store/agent/outbox.js';
import { AgentIdentityStore } from '../../../store/agent/identity.js';
import { AgentTransport, type TransportTiming } from '../../../agent/transport/session.js';
import { certificatePin, parseServerTarget } from '../../../agent/transport/target.js';
import { LiveResponder } from '../../../agent/live-response.js';
import { applyServerAllow } from '../../../cli/commands/agent.js';
import { CLOSE } from '../../../core/protocol.js';
import { TestServer, type TestServerOptions } from './support/test-server.js';
import { findingDoc } from '../../support/findings.js';
import { until } from './support/netns.js';
import { row } from '../../support/rows.js';
import { tempDir } from '../../support/tmp.js';

const FAST: Partial<TransportTiming> = {
  backoffBaseMs: 20,
  backoffCapMs: 200,
  permanentRetryMs: 600_000,
  helloTimeoutMs: 10_000,
  heartbeatMs: 200,
  pingMs: 250,
  missedPongs: 2,
  ackTimeoutMs: 1500,
  goodSessionMs: 1000,
};
const SECRET = 'fleet-secret';
const FACTS = { hostname: 'test-host', os: 'Linux', kernel: '6.1', platform: 'linux', arch: 'x64', ips: ['192.0.2.10'] };

let tmp: ReturnType<typeof tempDir>;
const cleanups: Array<() => Promise<void> | void> = [];

beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  tmp.remove();
});

interface Agent {
  store: AgentStore;
  outbox: Outbox;
  identity: AgentIdentityStore;
  transport: AgentTransport;
  logs: string[];
  id: string;
  enqueue(n: number, spec?: Parameters<typeof findingDoc>[0]): string[];
}

function agent(url: string, options: { secret?: string | null; db?: string; tls?: { ca?: string; pin?: string[] }; timing?: Partial<TransportTiming> } = {}): Agent {
  const store = openAgentStore(options.db ?? join(tmp.dir, 'agent.db'));
  const outbox = new Outbox(store.db);
  const identity = new AgentIdentityStore(store.db);
  const logs: string[] = [];
  const target = parseServerTarget({ server: url, ca: options.tls?.ca, pin: options.tls?.pin });
  const responder = new LiveResponder({ store, sampleRows: async () => [row({ pid: 42, dstIp: '198.51.100.7', dstPort: 4444 })] });
  const transport = new AgentTransport({
    target,
    agentId: store.db.agentId(),
    version: '0.0.0-test',
    hostFacts: async () => FACTS,
    identity,
    enrollSecret: options.secret === undefined ? SECRET : options.secret,
    outbox,
    applyAllow: (rules) => applyServerAllow(store, rules, (l) => logs.push(l)),
    handleRequest: (req) => responder.handle(req),
    log: (l) => logs.push(l),
    timing: { ...FAST, ...options.timing },
  });
  const id = store.db.agentId();
  cleanups.push(async () => {
    await transport.stop(0);
    store.close();
  });
  return {
    store,
    outbox,
    identity,
    transport,
    logs,
    id,
    enqueue: (n, spec = {}) => Array.from({ length: n }, () => findingDoc({ hostId: id, ...spec })).map((d) => (outbox.enqueue(d), d.event.id)),
  };
}

async function server(options: Partial<TestServerOptions> = {}): Promise<TestServer> {
  const s = await TestServer.start({ enrollSecret: SECRET, ...options });
  cleanups.push(() => s.close());
  return s;
}

describe('transport', () => {
  it('enrolls, keeps the token, applies the allow rules, streams the outbox and deletes on ack; reconnects with the token', async () => {
    const srv = await server({ allow: [{ process: '*', destination: '203.0.113.0/24', port: 443, transport: 'tcp', comment: 'fleet' }] });
    const a = agent(srv.url);
    const ids = a.enqueue(1200); // more than two batches
    const welcomes: Array<{ enrolled: boolean }> = [];
    srv.on('welcome', (w) => welcomes.push(w));
    a.transport.start();
    await until('all acked', () => a.outbox.pending() === 0 && srv.findings().length === 1200, 30_000, 20);
    expect(new Set(srv.findings().map((f) => f.event_id))).toEqual(new Set(ids));
    expect(a.identity.token(`ws://127.0.0.1:${srv.port}`)).toMatch(/^[\w-]{16,}$/);
    expect(a.store.baseline.listAllow()).toMatchObject([{ source: 'server', destination: '203.0.113.0/24', port: 443, comment: 'fleet' }]);
    expect(a.transport.stats.batchesSent).toBeGreaterThanOrEqual(3);
    expect(a.logs.some((l) => l.includes('enrolled (token stored)'))).toBe(true);
    await until('a heartbeat with the outbox figures', () => srv.db.prepare('SELECT count(*) FROM heartbeats').pluck().get() as number);

    await a.transport.stop(0);
    const dbPath = a.store.db.path;
    a.store.close();
    // the same database, no secret this time: the stored token is enough
    const b = agent(srv.url, { secret: null, db: dbPath });
    b.enqueue(3);
    b.transport.start();
    await until('the token session delivers', () => srv.findings().length === 1203, 30_000, 20);
    expect(welcomes, a.logs.join('\n')).toEqual([
      { agentId: a.id, enrolled: true },
      { agentId: a.id, enrolled: false },
    ]);
    expect(srv.counter('duplicates')).toBe(0);
  });

  it('sends updates of a finding as new entries; the server ends with the newest', async () => {
    const srv = await server({ holdAcks: true });
    const a = agent(srv.url);
    const [id] = a.enqueue(1, { count: 1 });
    a.transport.start();
    await until('first batch', () => srv.findings().length === 1);
    a.outbox.enqueue(findingDoc({ hostId: a.id, eventId: id, count: 2 }));
    a.outbox.enqueue(findingDoc({ hostId: a.id, eventId: id, count: 3 }));
    srv.releaseAcks();
    await until('drained', () => a.outbox.pending() === 0 && srv.findings()[0]?.count === 3, 30_000, 20);
    expect(srv.findings()).toHaveLength(1);
  });

  it('lost acks: the batch is resent on a new session and the server keeps it once', async () => {
    const srv = await server({ loseAcks: 2 });
    const a = agent(srv.url);
    const ids = a.enqueue(30);
    a.transport.start();
    await until('all acked after the resend', () => a.outbox.pending() === 0, 60_000, 50);
    expect(srv.counter('lost_acks')).toBe(2);
    expect(srv.counter('duplicates')).toBeGreaterThan(0);
    expect(srv.counter('received')).toBe(30);
    expect(srv.findings().map((f) => f.event_id).sort()).toEqual([...ids].sort());
    expect(a.logs.some((l) => /not acked within/.test(l))).toBe(true);
    expect(a.transport.stats.sessions).toBeGreaterThanOrEqual(2);
  });

  it('a cut connection reconnects; what was queued meanwhile arrives', async () => {
    const srv = await server();
    const a = agent(srv.url);
    a.transport.start();
    await until('connected', () => a.transport.state === 'ready');
    srv.cut();
    a.enqueue(5);
    await until('drained', () => a.outbox.pending() === 0 && srv.findings().length === 5, 30_000, 20);
    expect(a.logs.some((l) => l.startsWith('disconnected from the server'))).toBe(true);
  });

  it('a link that stops answering pings is declared dead and replaced', async () => {
    const srv = await server();
    const a = agent(srv.url);
    a.transport.start();
    await until('connected', () => a.transport.state === 'ready');
    srv.freeze();
    await until('the dead link noticed', () => a.logs.some((l) => /no pong to \d+ pings/.test(l)), 30_000, 50);
    a.enqueue(2);
    await until('a new session delivers', () => srv.findings().length === 2, 30_000, 50);
  });

  it('REVOKED is permanent: logged, no retry storm, findings stay queued', async () => {
    const srv = await server();
    const a = agent(srv.url);
    a.transport.start();
    await until('enrolled', () => a.transport.state === 'ready');
    srv.revoke(a.id);
    let hellos = 0;
    srv.on('hello', () => hellos++);
    srv.kick(CLOSE.GOING_AWAY, 'restart');
    await until('refused', () => a.transport.state === 'refused');
    a.enqueue(3);
    await new Promise((r) => setTimeout(r, 1000));
    expect(hellos).toBe(1);
    expect(a.outbox.pending()).toBe(3);
    expect(a.logs.find((l) => l.includes('REVOKED'))).toMatch(/refused this agent: REVOKED .*next attempt in \d+ min/);
  });

  it('a token the server no longer knows: enrolls again with the secret; a bad secret is permanent', async () => {
    const srv = await server();
    const a = agent(srv.url);
    a.transport.start();
    await until('enrolled', () => a.transport.state === 'ready');
    const first = a.identity.token(`ws://127.0.0.1:${srv.port}`);
    srv.forgetAgents();
    srv.kick(CLOSE.GOING_AWAY);
    await until('enrolled again', () => srv.counter('enrollments') === 2 && a.transport.state === 'ready', 30_000, 20);
    expect(a.identity.token(`ws://127.0.0.1:${srv.port}`)).not.toBe(first);
    expect(a.logs.some((l) => l.includes('enrolling again with the enroll secret'))).toBe(true);

    const other = await server({ enrollSecret: 'another-secret' });
    const b = agent(other.url, { db: join(tmp.dir, 'b.db') });
    b.transport.start();
    await until('refused', () => b.transport.state === 'refused');
    expect(b.logs.some((l) => l.includes('UNAUTHENTICATED'))).toBe(true);
  });

  it('ignores garbage, answers requests (unknown actions too) and keeps streaming', async () => {
    const srv = await server();
    const a = agent(srv.url);
    a.transport.start();
    await until('connected', () => a.transport.state === 'ready');
    srv.sendRaw('{not json');
    srv.sendRaw(JSON.stringify({ type: 'ack', seqs: ['x'] }));
    srv.sendRaw(JSON.stringify({ type: 'ack', seqs: [424242] })); // never sent: deletes nothing
    srv.sendRaw(JSON.stringify({ type: 'request', request_id: '5b0f0a1e-4b7a-4c55-9a0b-0c7d1e2f3a4b', action: 'shell.exec', params: {} }));
    const snap = await srv.request('snapshot', { filters: { remote: '198.51.100.7' } });
    expect(snap).toMatchObject({ ok: true, result: { total: 1 } });
    const bad = await srv.request('baseline.query', { ip: 12 });
    expect(bad).toMatchObject({ ok: false, error: { code: 'SOCKHUNT_E_PROTO_SCHEMA' } });
    a.enqueue(4);
    await until('delivered', () => srv.findings().length === 4);
    expect(a.logs.some((l) => l.startsWith('ignored an invalid message'))).toBe(true);
    expect(a.transport.stats.sessions).toBe(1);
  });

  it('drops findings the server refuses for good (another host id) and delivers the rest', async () => {
    const srv = await server();
    const a = agent(srv.url);
    a.enqueue(2);
    a.outbox.enqueue(findingDoc({ hostId: '00000000-0000-4000-8000-000000000000' }));
    a.transport.start();
    await until('drained', () => a.outbox.pending() === 0, 30_000, 20);
    expect(srv.findings()).toHaveLength(2);
    expect(a.outbox.rejected()).toBe(1);
  });

  it('stop() flushes what can be acked, then closes normally', async () => {
    const srv = await server();
    const a = agent(srv.url);
    a.transport.start();
    await until('connected', () => a.transport.state === 'ready');
    a.enqueue(50);
    await a.transport.stop(2000);
    expect(a.outbox.pending()).toBe(0);
    expect(srv.findings()).toHaveLength(50);
    expect(a.transport.state).toBe('stopped');
  });

  it('stop() keeps what the server does not ack in time in the outbox', async () => {
    const srv = await server({ holdAcks: true });
    const a = agent(srv.url);
    a.transport.start();
    await until('connected', () => a.transport.state === 'ready');
    a.enqueue(5);
    const t0 = Date.now();
    await a.transport.stop(300);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(a.outbox.pending()).toBe(5);
  });
});

describe('transport over TLS', () => {
  let dir: ReturnType<typeof tempDir>;
  let cert: string;
  let key: string;
  let otherCert: string;
  beforeAll(() => {
    dir = tempDir();
    const make = (name: string): void => {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
        '-subj', '/CN=sockhunt-test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout', join(dir.dir, `${name}.key`), '-out', join(dir.dir, `${name}.pem`),
      ], { stdio: 'ignore', timeout: 30_000 });
    };
    make('server');
    make('other');
    cert = join(dir.dir, 'server.pem');
    key = join(dir.dir, 'server.key');
    otherCert = join(dir.dir, 'other.pem');
  });
  afterAll(() => dir.remove());

  const pinOf = (pem: string): string => certificatePin(new X509Certificate(readFileSync(pem)).raw);
  const spkiPinOf = (pem: string): string =>
    `sha256/${createHash('sha256').update(new X509Certificate(readFileSync(pem)).publicKey.export({ type: 'spki', format: 'der' })).digest('base64')}`;

  it('connects with the certificate pinned (DER or public key), self-signed', async () => {
    const srv = await server({ tls: { key: readFileSync(key), cert: readFileSync(cert) } });
    for (const pin of [pinOf(cert), spkiPinOf(cert)]) {
      const a = agent(srv.url, { tls: { pin: [pin] }, db: join(tmp.dir, `${pin.length}-${Math.random()}.db`) });
      a.enqueue(2);
      a.transport.start();
      await until('delivered over TLS', () => a.outbox.pending() === 0, 10_000, 20).catch((err) => {
        throw new Error(`${pin}: ${a.logs.join(' | ')}: ${err.message}`);
      });
      await a.transport.stop(0);
    }
    expect(srv.findings()).toHaveLength(4);
  });

  it('refuses a server whose certificate does not match the pin: no hello is sent', async () => {
    const srv = await server({ tls: { key: readFileSync(key), cert: readFileSync(cert) } });
    let hellos = 0;
    srv.on('hello', () => hellos++);
    const a = agent(srv.url, { tls: { pin: [pinOf(otherCert)] } });
    a.transport.start();
    await until('the mismatch logged', () => a.logs.some((l) => l.includes('does not match --pin')), 30_000, 20);
    expect(a.logs.find((l) => l.includes('does not match --pin'))).toContain(pinOf(cert));
    expect(hellos).toBe(0);
  });

  it('verifies the chain with --ca, and refuses a server the CA did not sign', async () => {
    const srv = await server({ tls: { key: readFileSync(key), cert: readFileSync(cert) } });
    const good = agent(srv.url, { tls: { ca: cert } });
    good.enqueue(1);
    good.transport.start();
    await until('delivered', () => good.outbox.pending() === 0, 30_000, 20);
    const bad = agent(srv.url, { tls: { ca: otherCert }, db: join(tmp.dir, 'bad.db') });
    let hellos = 0;
    srv.on('hello', () => hellos++);
    bad.transport.start();
    await until('the failure logged', () => bad.logs.some((l) => l.startsWith('cannot connect to the server')), 30_000, 20);
    expect(hellos).toBe(0);
  });
});

describe('frames on the wire', () => {
  it('are masked with an all-zero key: the JSON goes out as it is, and the server has nothing to unmask', async () => {
    // A bare TCP listener that answers the upgrade and keeps the bytes of the first frame (the hello).
    const first = new Promise<Buffer>((resolve, reject) => {
      const srv = net.createServer((sock) => {
        let buf = Buffer.alloc(0);
        let upgraded = false;
        sock.on('error', () => undefined);
        sock.on('data', (chunk) => {
          buf = Buffer.concat([buf, chunk]);
          if (!upgraded) {
            const end = buf.indexOf('\r\n\r\n');
            if (end < 0) return;
            const key = /sec-websocket-key: *(\S+)/i.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? '';
            const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
            sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
            upgraded = true;
            buf = buf.subarray(end + 4);
          }
          if (buf.length < 2) return;
          const len7 = buf[1]! & 0x7f;
          const head = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
          if (buf.length < head + 4) return;
          const len = len7 < 126 ? len7 : len7 === 126 ? buf.readUInt16BE(2) : Number(buf.readBigUInt64BE(2));
          if (buf.length < head + 4 + len) return;
          resolve(buf.subarray(0, head + 4 + len));
          sock.destroy();
        });
      });
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const port = (srv.address() as AddressInfo).port;
        cleanups.push(() => new Promise<void>((r) => srv.close(() => r())));
        const a = agent(`ws://127.0.0.1:${port}`);
        a.transport.start();
      });
    });
    const frame = await first;
    expect(frame[0]).toBe(0x81); // FIN, text
    expect(frame[1]! & 0x80).toBe(0x80); // masked, as RFC 6455 asks of a client
    const len7 = frame[1]! & 0x7f;
    const head = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
    expect([...frame.subarray(head, head + 4)]).toEqual([0, 0, 0, 0]);
    const hello = JSON.parse(frame.subarray(head + 4).toString('utf8')) as { type: string };
    expect(hello.type).toBe('hello');
  });
});
