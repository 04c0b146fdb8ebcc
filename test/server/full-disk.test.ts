// The server's disk fills up while an agent streams: batches are answered SOCKHUNT_E_PROTO_STORE and never
// acked, the agent keeps them in its outbox, the server keeps serving (health, API, the same socket), and once
// there is room again every finding arrives exactly once. Real server (its database on a thread of its own,
// as `sockhunt server` runs it) on a tiny tmpfs; the agent's transport and outbox on the normal disk.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildServer, type SockhuntServer } from '../../server/app.js';
import { openSqliteServerStore } from '../../store/server/sqlite.js';
import type { ServerStore } from '../../store/server/contract.js';
import { openAgentStore, type AgentStore } from '../../store/agent/index.js';
import { Outbox } from '../../store/agent/outbox.js';
import { AgentIdentityStore } from '../../store/agent/identity.js';
import { AgentTransport } from '../../agent/transport/session.js';
import { parseServerTarget } from '../../agent/transport/target.js';
import { findingDoc } from '../support/findings.js';
import { until } from '../agent/transport/support/netns.js';
import { tempDir } from '../support/tmp.js';
import { fillUp, mountTmpfs, unmountAll } from '../support/tmpfs.js';

const SECRET = 'full-disk-secret-0123456789';
const API_TOKEN = 'full-disk-api-token-0123456789';
const cleanups: Array<() => Promise<void> | void> = [];
let tmp: ReturnType<typeof tempDir>;

beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  tmp.remove();
});
afterAll(unmountAll);

async function storedIds(store: ServerStore): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await store.listFindings({}, { limit: 500, cursor, sort: 'recent' });
    for (const f of page.items) out.push(f.eventId);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

describe('server on a full disk', () => {
  it.runIf(process.platform === 'linux' && process.getuid?.() === 0)(
    'refuses to ack what it cannot store, keeps serving, and takes every finding exactly once when there is room',
    async (ctx) => {
      const tmpfs = mountTmpfs(path.join(tmp.dir, 'mnt'), '16m');
      if (!tmpfs) {
        ctx.skip('cannot mount a tmpfs here');
        return;
      }
      const mnt = tmpfs.dir;
      cleanups.push(() => tmpfs.unmount());

      const warnings: string[] = [];
      const store = openSqliteServerStore(path.join(mnt, 'server.db'), { thread: true, warn: (m) => warnings.push(m) });
      cleanups.push(() => store.close());
      const serverLogs: string[] = [];
      const server: SockhuntServer = buildServer({
        store,
        enrollSecret: SECRET,
        apiToken: API_TOKEN,
        validateWorkers: 0,
        log: (level, message, fields) => serverLogs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`),
      });
      await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => server.close());
      const base = `127.0.0.1:${(server.server.address() as AddressInfo).port}`;

      const agentStore: AgentStore = openAgentStore(path.join(tmp.dir, 'agent.db'));
      cleanups.push(() => agentStore.close());
      const outbox = new Outbox(agentStore.db);
      const logs: string[] = [];
      const id = agentStore.db.agentId();
      const transport = new AgentTransport({
        target: parseServerTarget({ server: `ws://${base}` }),
        agentId: id,
        version: '0.0.0-test',
        hostFacts: async () => ({ hostname: 'test-host', os: 'Linux', kernel: '6.1', platform: 'linux', arch: 'x64', ips: ['192.0.2.10'] }),
        identity: new AgentIdentityStore(agentStore.db),
        enrollSecret: SECRET,
        outbox,
        applyAllow: () => 0,
        handleRequest: async (req) => ({ type: 'reply', request_id: req.request_id, ok: false, error: { code: 'SOCKHUNT_E_REQUEST_FAILED', message: 'not here' } }),
        log: (l) => logs.push(l),
        timing: { backoffBaseMs: 50, backoffCapMs: 300, heartbeatMs: 200, pingMs: 500, ackTimeoutMs: 5000, permanentRetryMs: 600_000 },
      });
      cleanups.push(() => transport.stop(0));

      const first = Array.from({ length: 50 }, () => findingDoc({ hostId: id }));
      for (const d of first) outbox.enqueue(d);
      transport.start();
      await until('the first findings stored and acked', async () => outbox.pending() === 0 && (await storedIds(store)).length === 50, 30_000, 50);

      const filler = fillUp(mnt);
      // More than the WAL and the database have room for: each document ~8 KB.
      const second = Array.from({ length: 400 }, () => findingDoc({ hostId: id, pad: 8000 }));
      for (const d of second) outbox.enqueue(d);
      await until('the server says it could not store them', () => logs.some((l) => l.includes('SOCKHUNT_E_PROTO_STORE')), 30_000, 50);
      expect(outbox.pending()).toBeGreaterThan(0);
      expect(serverLogs.some((l) => l.startsWith('error storing a batch failed'))).toBe(true);

      // Still serving: health, the API over what it has, and agents.
      const health = await fetch(`http://${base}/healthz`);
      expect(health.status).toBe(200);
      const list = await fetch(`http://${base}/api/findings?limit=5`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
      expect(list.status).toBe(200);
      expect((await storedIds(store)).length).toBeLessThan(450);

      fs.rmSync(filler);
      await until('everything stored once there is room', async () => outbox.pending() === 0 && (await storedIds(store)).length === 450, 60_000, 100);
      const all = await storedIds(store);
      expect(new Set(all)).toEqual(new Set([...first, ...second].map((d) => d.event.id)));
      expect(all).toHaveLength(450);
      expect(logs.some((l) => l.includes('SOCKHUNT_E_PROTO_STORE'))).toBe(true);
    },
    120_000,
  );
});
