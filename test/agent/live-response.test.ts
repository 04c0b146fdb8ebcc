import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { processKeyOf } from '../../store/agent/index.js';
import { LiveResponder, REQUEST_HANDLERS, replyToUnparsedRequest } from '../../agent/live-response.js';
import { applyServerAllow } from '../../cli/commands/agent.js';
import type { Connection } from '../../collectors/types.js';
import { REQUEST_ACTIONS, REQUEST_ACTION_NAMES, RequestSchema, type RequestAction, type ServerRequest } from '../../core/protocol.js';
import { row } from '../support/rows.js';
import { agentStoreEach } from '../support/stores.js';

const fx = agentStoreEach();

const req = (action: string, params: unknown): ServerRequest => ({ type: 'request', request_id: randomUUID(), action: action as ServerRequest['action'], params: params as Record<string, unknown> });

const ROWS: Connection[] = [
  row({ pid: 10, name: 'curl', executable: '/usr/bin/curl', dstIp: '198.51.100.7', dstPort: 4444, inode: 1 }),
  row({ pid: 11, name: 'sshd', executable: '/usr/sbin/sshd', dstIp: '0.0.0.0', dstPort: 0, state: 'LISTEN', srcPort: 22, inode: 2 }),
  row({ pid: 12, name: 'nginx', executable: '/usr/sbin/nginx', dstIp: '203.0.113.9', dstPort: 443, inode: 3 }),
];

function responder(rows: () => Promise<Connection[]> = async () => ROWS, extra: Partial<ConstructorParameters<typeof LiveResponder>[0]> = {}): LiveResponder {
  return new LiveResponder({ store: fx.store, sampleRows: rows, ...extra });
}

describe('live response: snapshot', () => {
  it('answers with the rows, filtered', async () => {
    const r = await responder().handle(req('snapshot', {}));
    expect(r).toMatchObject({ ok: true, result: { total: 3, sockets: 3, truncated: false } });
    const only = await responder().handle(req('snapshot', { filters: { remote: '198.51.100.0/24', state: ['established'] } }));
    expect(only.ok).toBe(true);
    expect((only.result as { rows: Connection[] }).rows.map((x) => x.process.pid)).toEqual([10]);
    const byPid = await responder().handle(req('snapshot', { filters: { pid: [12], port: 443 } }));
    expect((byPid.result as { rows: Connection[] }).rows.map((x) => x.process.pid)).toEqual([12]);
    const byName = await responder().handle(req('snapshot', { filters: { process: 'sshd', state: ['LISTEN'] } }));
    expect((byName.result as { rows: Connection[] }).rows.map((x) => x.process.pid)).toEqual([11]);
  });

  it('names destinations the agent saw DNS answers for', async () => {
    const names: Record<string, string> = { '203.0.113.9': 'cdn.example.test' };
    const r = await responder(async () => ROWS, { domainOf: (ip) => names[ip] ?? null }).handle(req('snapshot', {}));
    const rows = (r.result as { rows: Connection[] }).rows;
    expect(rows.map((x) => x.destination.domain ?? null)).toEqual([null, null, 'cdn.example.test']);
    expect(ROWS[2]!.destination.domain).toBeUndefined(); // the collector's rows are not changed
  });

  it('caps the rows and says so', async () => {
    const many = Array.from({ length: 50 }, (_, i) => row({ pid: i, inode: i }));
    const r = await responder(async () => many, { maxRows: 7 }).handle(req('snapshot', {}));
    expect(r.result).toMatchObject({ total: 50, truncated: true });
    expect((r.result as { rows: unknown[] }).rows).toHaveLength(7);
    const bytes = await responder(async () => many, { maxBytes: 3000 }).handle(req('snapshot', {}));
    expect(JSON.stringify((bytes.result as { rows: unknown[] }).rows).length).toBeLessThanOrEqual(3000 + 60);
    expect((bytes.result as { truncated: boolean }).truncated).toBe(true);
  });

  it('refuses bad params with SOCKHUNT_E_PROTO_SCHEMA and never throws', async () => {
    const bad: unknown[] = [
      { filters: { pid: ['x'] } },
      { filters: { state: ['SLEEPING'] } },
      { filters: { remote: 'not-an-ip' } },
      { filters: { port: 70000 } },
      { filters: { nope: 1 } },
      { extra: true },
      { filters: 'all' },
    ];
    for (const params of bad) {
      const r = await responder().handle(req('snapshot', params));
      expect(r.ok, JSON.stringify(params)).toBe(false);
      expect(r.error?.code).toBe('SOCKHUNT_E_PROTO_SCHEMA');
      expect(r.error?.message).toMatch(/^params/);
    }
  });

  it('reports a collector failure or a hang as SOCKHUNT_E_REQUEST_FAILED', async () => {
    const failing = await responder(async () => {
      throw new Error('netlink went away');
    }).handle(req('snapshot', {}));
    expect(failing).toMatchObject({ ok: false, error: { code: 'SOCKHUNT_E_REQUEST_FAILED', message: 'netlink went away' } });
    const hanging = await responder(() => new Promise(() => {}), { timeoutMs: 50 }).handle(req('snapshot', {}));
    expect(hanging).toMatchObject({ ok: false, error: { code: 'SOCKHUNT_E_REQUEST_FAILED' } });
    expect(hanging.error?.message).toMatch(/within 50 ms/);
  });
});

describe('live response: baseline', () => {
  function learn(): void {
    const rows = [
      row({ pid: 10, name: 'curl', executable: '/usr/bin/curl', commandLine: 'curl x', dstIp: '198.51.100.7', dstPort: 4444, inode: 1 }),
      row({ pid: 12, name: 'nginx', executable: '/usr/sbin/nginx', commandLine: 'nginx', dstIp: '198.51.100.9', dstPort: 443, inode: 3 }),
    ];
    fx.store.baseline.learn({ ts: Date.UTC(2026, 10, 28), intervalMs: 1000, entries: rows.map((r) => ({ row: r, processKey: processKeyOf(r.process), isNew: true })) });
  }

  it('baseline.query tells which processes talked to the destination, its network and port, and the rules that allow it', async () => {
    learn();
    fx.store.baseline.allow({ process: '*', destination: '198.51.100.0/24', port: null, transport: 'tcp', source: 'cli', comment: 'lab' });
    const r = await responder().handle(req('baseline.query', { ip: '198.51.100.7', port: 4444, transport: 'tcp' }));
    expect(r.ok).toBe(true);
    const res = r.result as Record<string, any>;
    expect(res.known).toBe(true);
    expect(res.endpoints).toHaveLength(1);
    expect(res.endpoints[0]).toMatchObject({ endpoint: '198.51.100.7:4444/tcp', port: 4444, transport: 'tcp', first_seen: '2026-11-28T00:00:00.000Z', connections: 1 });
    expect(res.endpoints[0].process).toContain('curl');
    expect(res.network.value).toBe('198.51.100.0/24');
    expect(res.network.processes).toHaveLength(2);
    expect(res.ports.map((p: { port: string }) => p.port)).toEqual(['4444/tcp']);
    expect(res.allowed_by).toMatchObject([{ destination: '198.51.100.0/24', source: 'cli', comment: 'lab' }]);
    const unknown = await responder().handle(req('baseline.query', { ip: '203.0.113.200' }));
    expect(unknown.result).toMatchObject({ known: false, endpoints: [], ports: [], allowed_by: [] });
    const otherPort = await responder().handle(req('baseline.query', { ip: '198.51.100.7', port: 22 }));
    expect((otherPort.result as Record<string, any>).endpoints).toEqual([]);
  });

  it('baseline.query includes the repeated counts the baseline has not written yet', async () => {
    const r0 = row({ pid: 10, name: 'curl', executable: '/usr/bin/curl', commandLine: 'curl x', dstIp: '198.51.100.7', dstPort: 4444, inode: 1 });
    const t0 = Date.UTC(2026, 10, 28);
    for (let i = 0; i < 3; i++) fx.store.baseline.learn({ ts: t0 + i * 1000, intervalMs: 1000, entries: [{ row: r0, processKey: processKeyOf(r0.process), isNew: i === 0 }] });
    const r = await responder().handle(req('baseline.query', { ip: '198.51.100.7', port: 4444, transport: 'tcp' }));
    expect((r.result as Record<string, any>).endpoints[0]).toMatchObject({ samples: 3, last_seen: '2026-11-28T00:00:02.000Z' });
  });

  it('baseline.query refuses bad params', async () => {
    for (const params of [{}, { ip: 'x.y' }, { ip: '198.51.100.7', port: -1 }, { ip: '198.51.100.7', transport: 'icmp' }, { ip: '1.2.3.4', extra: 1 }]) {
      const r = await responder().handle(req('baseline.query', params));
      expect(r, JSON.stringify(params)).toMatchObject({ ok: false, error: { code: 'SOCKHUNT_E_PROTO_SCHEMA' } });
    }
  });

  it('baseline.allow replaces the server rules and leaves the cli ones; invalid rules change nothing', async () => {
    fx.store.baseline.allow({ process: '*', destination: '10.0.0.0/8', port: null, transport: null, source: 'cli' });
    const ok = await responder().handle(
      req('baseline.allow', { rules: [{ process: '*', destination: '198.51.100.7', port: 4444, transport: 'tcp', comment: 'lab C2 sim' }] }),
    );
    expect(ok).toMatchObject({ ok: true, result: { rules: 1 } });
    expect(fx.store.baseline.listAllow().map((r) => `${r.source}:${r.destination}`)).toEqual(['cli:10.0.0.0/8', 'server:198.51.100.7']);
    const bad = await responder().handle(req('baseline.allow', { rules: [{ process: '*', destination: 'nowhere', port: null, transport: null }] }));
    expect(bad).toMatchObject({ ok: false, error: { code: 'SOCKHUNT_E_PROTO_SCHEMA' } });
    const badShape = await responder().handle(req('baseline.allow', { rules: 'all' }));
    expect(badShape).toMatchObject({ ok: false, error: { code: 'SOCKHUNT_E_PROTO_SCHEMA' } });
    expect(fx.store.baseline.listAllow()).toHaveLength(2);
    const cleared = await responder().handle(req('baseline.allow', { rules: [] }));
    expect(cleared).toMatchObject({ ok: true, result: { rules: 0 } });
    expect(fx.store.baseline.listAllow().map((r) => r.source)).toEqual(['cli']);
  });

  it('welcome allow rules apply best-effort: invalid ones are skipped and logged', () => {
    const lines: string[] = [];
    const n = applyServerAllow(
      fx.store,
      [
        { process: '*', destination: '198.51.100.7', port: 4444, transport: 'tcp' },
        { process: '*', destination: 'garbage', port: null, transport: null },
      ],
      (l) => lines.push(l),
    );
    expect(n).toBe(1);
    expect(lines).toEqual(['skipped 1 invalid allow rule from the server']);
  });
});

describe('requests this build cannot parse', () => {
  it('an unknown action gets SOCKHUNT_E_REQUEST_UNKNOWN, a known one with a bad shape SOCKHUNT_E_PROTO_SCHEMA, no id no reply', () => {
    const id = randomUUID();
    expect(replyToUnparsedRequest({ type: 'request', request_id: id, action: 'shell.exec', params: {} }, 'x')).toMatchObject({
      request_id: id,
      ok: false,
      error: { code: 'SOCKHUNT_E_REQUEST_UNKNOWN' },
    });
    expect(replyToUnparsedRequest({ type: 'request', request_id: id, action: 'snapshot', params: 7 }, 'params: bad')).toMatchObject({
      ok: false,
      error: { code: 'SOCKHUNT_E_PROTO_SCHEMA', message: 'params: bad' },
    });
    expect(replyToUnparsedRequest({ type: 'request', request_id: 'nope', action: 'x' }, 'x')).toBeNull();
    expect(replyToUnparsedRequest({ type: 'ack' }, 'x')).toBeNull();
    expect(replyToUnparsedRequest(null, 'x')).toBeNull();
  });
});

describe('the request table (core/protocol.ts REQUEST_ACTIONS)', () => {
  it('every action in the table has a handler, and every handler an action in the table', () => {
    expect(Object.keys(REQUEST_HANDLERS).sort()).toEqual(Object.keys(REQUEST_ACTIONS).sort());
    expect([...REQUEST_ACTION_NAMES].sort()).toEqual(Object.keys(REQUEST_ACTIONS).sort());
  });

  it('the request schema takes exactly the table\'s actions', () => {
    const frame = (action: string) => ({ type: 'request', request_id: randomUUID(), action, params: {} });
    for (const action of Object.keys(REQUEST_ACTIONS)) expect(RequestSchema.safeParse(frame(action)).success, action).toBe(true);
    expect(RequestSchema.safeParse(frame('shell.exec')).success).toBe(false);
    expect(RequestSchema.safeParse(frame('toString')).success).toBe(false);
  });

  it('each handler\'s ok reply, as sent, matches the table\'s result schema', async () => {
    fx.store.baseline.allow({ process: '*', destination: '198.51.100.0/24', port: null, transport: 'tcp', source: 'cli', comment: null });
    const samples: { [A in RequestAction]: Record<string, unknown> } = {
      snapshot: { filters: { port: 443 } },
      'baseline.query': { ip: '198.51.100.7', port: 4444, transport: 'tcp' },
      'baseline.allow': { rules: [{ process: '*', destination: '203.0.113.9', port: 443, transport: 'tcp' }] },
    };
    for (const action of Object.keys(REQUEST_ACTIONS) as RequestAction[]) {
      const reply = await responder(async () => ROWS, { domainOf: () => 'cdn.example.test' }).handle(req(action, samples[action]));
      expect(reply.ok, `${action}: ${JSON.stringify(reply.error)}`).toBe(true);
      const sent = JSON.parse(JSON.stringify(reply.result)) as unknown;
      const checked = REQUEST_ACTIONS[action].result.safeParse(sent);
      expect(checked.success, `${action}: ${checked.error?.message}`).toBe(true);
    }
  });

  it('an action the table does not have is SOCKHUNT_E_REQUEST_UNKNOWN, even one named like an object property', async () => {
    for (const action of ['shell.exec', 'constructor', '__proto__']) {
      expect(await responder().handle(req(action, {}))).toMatchObject({ ok: false, error: { code: 'SOCKHUNT_E_REQUEST_UNKNOWN' } });
      expect(replyToUnparsedRequest({ type: 'request', request_id: randomUUID(), action, params: {} }, 'x')).toMatchObject({ error: { code: 'SOCKHUNT_E_REQUEST_UNKNOWN' } });
    }
  });
});
