// The transport against the real server (server/app.ts over the SQLite store), in process on 127.0.0.1:0.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildServer, type SockhuntServer } from '../../../server/app.js';
import { openSqliteServerStore } from '../../../store/server/sqlite.js';
import type { ServerStore } from '../../../store/server/contract.js';
import { CLOSE } from '../../../core/protocol.js';
import { openAgentStore, type AgentStore } from '../../../store/agent/index.js';
import { Outbox } from '../../../store/agent/outbox.js';
import { AgentIdentityStore } from '../../../store/agent/identity.js';
import { AgentTransport } from '../../../agent/transport/session.js';
import { parseServerTarget } from '../../../agent/transport/target.js';
import { LiveResponder } from '../../../agent/live-response.js';
import { applyServerAllow } from '../../../cli/commands/agent.js';
import { findingDoc } from '../../support/findings.js';
import { until } from './support/netns.js';
import { row } from '../../support/rows.js';
import { tempDir } from '../../support/tmp.js';

const SECRET = 'real-server-secret';
let tmp: ReturnType<typeof tempDir>;
let serverStore: ServerStore;
let server: SockhuntServer;
let url: string;
let agentStore: AgentStore;
let outbox: Outbox;
let transport: AgentTransport;
let logs: string[];

beforeEach(async () => {
  tmp = tempDir();
  serverStore = openSqliteServerStore(join(tmp.dir, 'server.db'));
  server = buildServer({ store: serverStore, enrollSecret: SECRET, apiToken: 'api-token-0123456789abcdef', presenceFlushMs: 100 });
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
  url = `ws://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  agentStore = openAgentStore(join(tmp.dir, 'agent.db'));
  outbox = new Outbox(agentStore.db);
  logs = [];
  const responder = new LiveResponder({ store: agentStore, sampleRows: async () => [row({ pid: 7, dstIp: '198.51.100.7', dstPort: 4444 })] });
  transport = new AgentTransport({
    target: parseServerTarget({ server: url }),
    agentId: agentStore.db.agentId(),
    version: '0.0.0-test',
    hostFacts: async () => ({ hostname: 'test-host', os: 'Linux', kernel: '6.1', platform: 'linux', arch: 'x64', ips: ['192.0.2.10'] }),
    identity: new AgentIdentityStore(agentStore.db),
    enrollSecret: SECRET,
    outbox,
    applyAllow: (rules) => applyServerAllow(agentStore, rules, (l) => logs.push(l)),
    handleRequest: (req) => responder.handle(req),
    log: (l) => logs.push(l),
    timing: { backoffBaseMs: 20, backoffCapMs: 200, heartbeatMs: 100, pingMs: 250, ackTimeoutMs: 5000, permanentRetryMs: 600_000 },
  });
});

afterEach(async () => {
  await transport.stop(0);
  agentStore.close();
  await server.close();
  await serverStore.close();
  tmp.remove();
});

async function serverCounts(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor: string | null = null;
  do {
    const page = await serverStore.listFindings({}, { limit: 500, cursor, sort: 'recent' });
    for (const f of page.items) out.set(f.eventId, f.count);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

describe('transport against the real server', () => {
  it('enrolls, streams batches, upserts updates, reports the outbox in heartbeats', async () => {
    const id = agentStore.db.agentId();
    const docs = Array.from({ length: 700 }, () => findingDoc({ hostId: id }));
    for (const d of docs) outbox.enqueue(d);
    transport.start();
    await until('all stored and acked', async () => outbox.pending() === 0 && (await serverCounts()).size === 700, 60_000, 50);
    outbox.enqueue(findingDoc({ hostId: id, eventId: docs[0]!.event.id, count: 5 }));
    await until('the update stored', async () => (await serverCounts()).get(docs[0]!.event.id) === 5, 30_000, 50);
    expect(logs.some((l) => l.includes('enrolled (token stored)'))).toBe(true);
    await until('the heartbeat recorded', async () => (await serverStore.listHosts())[0]?.outboxPending === 0, 30_000, 50);
    const host = (await serverStore.listHosts())[0]!;
    expect(host).toMatchObject({ agentId: id, hostname: 'test-host', outboxDropped: 0 });
  });

  it('answers live response through the hub and rejects nothing of its own', async () => {
    transport.start();
    await until('connected', () => transport.state === 'ready');
    const id = agentStore.db.agentId();
    const reply = await server.hub.request(id, 'snapshot', { filters: { remote: '198.51.100.0/24' } }, 10_000);
    expect(reply).toMatchObject({ ok: true, result: { total: 1 } });
    const bad = await server.hub.request(id, 'baseline.query', { ip: 'nope' }, 10_000);
    expect(bad).toMatchObject({ ok: false, error: { code: 'SOCKHUNT_E_PROTO_SCHEMA' } });
    // a finding of another host is refused for good and leaves the outbox
    outbox.enqueue(findingDoc({ hostId: '00000000-0000-4000-8000-000000000000' }));
    await until('refused and removed', () => outbox.pending() === 0 && outbox.rejected() === 1, 30_000, 50);
  });

  it('a revoked agent is refused for good, keeps its findings queued and does not hammer the server', async () => {
    transport.start();
    await until('connected', () => transport.state === 'ready');
    const id = agentStore.db.agentId();
    await serverStore.revokeHost(id, Date.now(), { who: 'test', action: 'host.revoke', target: id });
    server.hub.get(id)?.close(CLOSE.GOING_AWAY, 'revoked');
    await until('refused', () => transport.state === 'refused', 30_000, 20);
    outbox.enqueue(findingDoc({ hostId: id }));
    const sessions = transport.stats.sessions;
    await new Promise((r) => setTimeout(r, 800));
    expect(transport.stats.sessions).toBe(sessions);
    expect(outbox.pending()).toBe(1);
    expect(logs.join('\n')).toMatch(/refused this agent: REVOKED/);
  });
});
