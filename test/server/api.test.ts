import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { CLOSE } from '../../core/protocol.js';
import { API_TOKEN, TestClient, api, connectAgent, hello, sleep, startTestServer, type TestServer } from '../support/server.js';
import { finding } from '../support/findings.js';

let server: TestServer;
beforeEach(async () => {
  server = await startTestServer({ requestTimeoutMs: 1000 });
});
afterEach(async () => {
  await server.stop();
});

async function seed(): Promise<{ a: Awaited<ReturnType<typeof connectAgent>>; docs: ReturnType<typeof finding>[] }> {
  const a = await connectAgent(server, randomUUID(), { hostname: 'web-01' });
  const docs = [
    finding({ agentId: a.agentId, risk: 'Critical', score: 0.9, detector: 'beacon', technique: 'T1071.001', ip: '198.51.100.1', lastSeen: '2026-11-28T10:00:00.000Z' }),
    finding({ agentId: a.agentId, risk: 'High', score: 0.7, detector: 'nonstandard-port', technique: 'T1571', ip: '198.51.100.2', port: 4444, lastSeen: '2026-11-28T11:00:00.000Z' }),
    finding({ agentId: a.agentId, risk: 'Medium', score: 0.5, detector: 'first-seen', ip: '198.51.100.3', lastSeen: '2026-11-28T12:00:00.000Z' }),
    finding({ agentId: a.agentId, risk: 'Low', score: 0.2, detector: 'first-seen', ip: '198.51.100.4', lastSeen: '2026-11-28T13:00:00.000Z' }),
  ];
  a.client.send({ type: 'findings', items: docs.map((finding, i) => ({ seq: i + 1, finding })) });
  await a.client.next('ack');
  return { a, docs };
}

describe('authentication and errors', () => {
  it('every /api endpoint needs the bearer token; errors are {error:{code,message}}', async () => {
    const endpoints: Array<[string, string]> = [
      ['GET', '/api/hosts'],
      ['DELETE', `/api/hosts/${randomUUID()}`],
      ['GET', '/api/findings'],
      ['GET', '/api/findings.ndjson'],
      ['GET', '/api/findings/x'],
      ['PATCH', '/api/findings/x'],
      ['POST', '/api/findings/x/allow'],
      ['GET', '/api/destinations'],
      ['POST', `/api/hosts/${randomUUID()}/snapshot`],
      ['GET', '/api/audit'],
      ['GET', '/api/allow'],
      ['DELETE', '/api/allow/1'],
      ['GET', '/api/stats'],
    ];
    for (const [method, path] of endpoints) {
      for (const auth of [undefined, 'Bearer wrong-token-0123456789', `Basic ${API_TOKEN}`, `Bearer ${API_TOKEN}x`]) {
        const res = await fetch(`${server.url}${path}`, { method, headers: auth ? { Authorization: auth } : {} });
        expect(res.status, `${method} ${path} with ${auth}`).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(await res.json()).toEqual({ error: { code: 'SOCKHUNT_E_API_AUTH', message: expect.any(String) } });
      }
    }
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('unknown endpoints 404, wrong methods 405 with Allow, bad input 400, big bodies 413, non-JSON bodies 415', async () => {
    expect((await api(server, 'GET', '/api/nope')).json.error.code).toBe('SOCKHUNT_E_API_NOT_FOUND');
    const m = await api(server, 'PUT', '/api/hosts');
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toBe('GET');
    const q = await api(server, 'GET', '/api/findings?risk=extreme');
    expect(q.status).toBe(400);
    expect(q.json.error).toMatchObject({ code: 'SOCKHUNT_E_API_INPUT', message: expect.stringContaining('query.risk') });
    expect((await api(server, 'GET', '/api/findings?limit=0')).status).toBe(400);
    expect((await api(server, 'GET', '/api/findings?limit=5&limit=6')).status).toBe(400);
    expect((await api(server, 'GET', '/api/findings?colour=red')).status).toBe(400);
    expect((await api(server, 'GET', '/api/findings?cursor=garbage')).json.error.code).toBe('SOCKHUNT_E_API_INPUT');
    expect((await api(server, 'GET', '/api/findings?__proto__=1')).status).toBe(400);
    const big = await api(server, 'PATCH', '/api/findings/x', { notes: 'n'.repeat(70_000) });
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('SOCKHUNT_E_API_TOO_LARGE');
    const notJson = await api(server, 'PATCH', '/api/findings/x', 'status=closed', { 'Content-Type': 'application/x-www-form-urlencoded' });
    expect(notJson.status).toBe(415);
    const broken = await api(server, 'PATCH', '/api/findings/x', '{"status":');
    expect(broken.status).toBe(400);
    expect((await api(server, 'GET', '/api/findings/%E0%A4%A')).status).toBe(400);
  });
});

describe('findings', () => {
  it('lists ranked by risk, filters, pages with a cursor, and shows one', async () => {
    const { a, docs } = await seed();
    const all = await api(server, 'GET', '/api/findings');
    expect(all.status).toBe(200);
    expect(all.json.findings.map((f: any) => f.hunt.risk)).toEqual(['Critical', 'High', 'Medium', 'Low']);
    expect(all.json.next_cursor).toBeNull();
    const f0 = all.json.findings[0];
    expect(f0.sockhunt).toMatchObject({ agent_id: a.agentId, status: 'new', display_id: `web-01/${docs[0]!.hunt.id}` });
    expect(f0.hunt.fleet).toMatchObject({ hosts: 1, prevalence: 1, modifier: 0 });

    expect((await api(server, 'GET', '/api/findings?risk=high')).json.findings).toHaveLength(2);
    expect((await api(server, 'GET', '/api/findings?technique=T1071')).json.findings).toHaveLength(3);
    expect((await api(server, 'GET', '/api/findings?technique=t1571')).json.findings).toHaveLength(1);
    expect((await api(server, 'GET', '/api/findings?detector=first-seen')).json.findings).toHaveLength(2);
    expect((await api(server, 'GET', '/api/findings?host=web-01')).json.findings).toHaveLength(4);
    expect((await api(server, 'GET', `/api/findings?host=${a.agentId}`)).json.findings).toHaveLength(4);
    expect((await api(server, 'GET', '/api/findings?host=db-02')).json.findings).toHaveLength(0);
    expect((await api(server, 'GET', '/api/findings?since=2026-11-28T11:30:00Z')).json.findings).toHaveLength(2);
    expect((await api(server, 'GET', '/api/findings?status=new')).json.findings).toHaveLength(4);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await api(server, 'GET', `/api/findings?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.json.findings.map((f: any) => f.event.id));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.json.findings.map((f: any) => f.event.id));
    const recent = await api(server, 'GET', '/api/findings?sort=recent&limit=2');
    expect(recent.json.findings.map((f: any) => f.hunt.risk)).toEqual(['Low', 'Medium']);
    const recent2 = await api(server, 'GET', `/api/findings?sort=recent&limit=2&cursor=${recent.json.next_cursor}`);
    expect(recent2.json.findings.map((f: any) => f.hunt.risk)).toEqual(['High', 'Critical']);

    const one = await api(server, 'GET', `/api/findings/${docs[1]!.event.id}`);
    expect(one.json.finding.event.id).toBe(docs[1]!.event.id);
    expect(one.json.finding.process.executable).toBe('/usr/bin/curl');
    expect((await api(server, 'GET', '/api/findings/nope')).status).toBe(404);
    a.client.close();
  });

  it('PATCH sets status, assignee and notes, audited with who made the change', async () => {
    const { a, docs } = await seed();
    const id = docs[0]!.event.id;
    const res = await api(server, 'PATCH', `/api/findings/${id}`, { status: 'true_positive', assignee: 'ana', notes: 'C2, isolate' }, { 'X-Sockhunt-User': 'ana@soc' });
    expect(res.status).toBe(200);
    expect(res.json.finding.sockhunt).toMatchObject({ status: 'true_positive', assignee: 'ana', notes: 'C2, isolate' });
    expect((await api(server, 'PATCH', `/api/findings/${id}`, { status: 'bogus' })).status).toBe(400);
    expect((await api(server, 'PATCH', `/api/findings/${id}`, {})).status).toBe(400);
    expect((await api(server, 'PATCH', `/api/findings/${id}`, { status: 'closed', extra: 1 })).status).toBe(400);
    expect((await api(server, 'PATCH', '/api/findings/nope', { status: 'closed' })).status).toBe(404);
    // Clearing with null, and a header that is not a plain name falls back to "api".
    const cleared = await api(server, 'PATCH', `/api/findings/${id}`, { assignee: null }, { 'X-Sockhunt-User': ' ' });
    expect(cleared.json.finding.sockhunt.assignee).toBeNull();
    const audit = await api(server, 'GET', '/api/audit?action=finding.update');
    expect(audit.json.entries.map((e: any) => e.who)).toEqual(['api', 'ana@soc']);
    expect(audit.json.entries[1]).toMatchObject({ target: id, detail: { status: 'true_positive', before: { status: 'new' } } });
    expect((await api(server, 'GET', '/api/findings?status=true_positive')).json.findings).toHaveLength(1);
    a.client.close();
  });

  it('exports NDJSON as a stream, with the same filters', async () => {
    const { a } = await seed();
    const res = await fetch(`${server.url}/api/findings.ndjson?risk=medium`, { headers: { Authorization: `Bearer ${API_TOKEN}` } });
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((f) => f.hunt.risk)).toEqual(['Critical', 'High', 'Medium']);
    a.client.close();
  });
});

describe('hosts, destinations, audit', () => {
  it('lists hosts with online state and revokes one (token stops working, findings stay)', async () => {
    const { a } = await seed();
    const b = await connectAgent(server, randomUUID(), { hostname: 'db-02' });
    b.client.close();
    await b.client.closed;
    await sleep(50);
    const hosts = (await api(server, 'GET', '/api/hosts')).json.hosts;
    expect(hosts.map((h: any) => [h.hostname, h.online, h.findings])).toEqual([
      ['db-02', false, 0],
      ['web-01', true, 4],
    ]);
    expect(hosts[1].facts).toMatchObject({ os: 'Linux', arch: 'x64' });
    expect(hosts[1]).not.toHaveProperty('token_hash');
    const revoked = await api(server, 'DELETE', `/api/hosts/${a.agentId}`, undefined, { 'X-Sockhunt-User': 'lead' });
    expect(revoked.json).toEqual({ id: a.agentId, revoked: true, disconnected: true });
    expect((await a.client.closed).code).toBe(CLOSE.REVOKED);
    expect((await api(server, 'DELETE', `/api/hosts/${randomUUID()}`)).status).toBe(404);
    const after = (await api(server, 'GET', '/api/hosts')).json.hosts.find((h: any) => h.id === a.agentId);
    expect(after).toMatchObject({ revoked: true, online: false, findings: 4 });
    const audit = (await api(server, 'GET', '/api/audit?action=host.revoke')).json.entries;
    expect(audit[0]).toMatchObject({ who: 'lead', target: a.agentId });
  });

  it('stack-counts destinations: fewest hosts first, with host ids and processes', async () => {
    const agents = await Promise.all([0, 1, 2].map((i) => connectAgent(server, randomUUID(), { hostname: `h${i}` })));
    let seq = 0;
    for (const [i, a] of agents.entries()) {
      const items = [{ seq: ++seq, finding: finding({ agentId: a.agentId, ip: '203.0.113.50', name: 'update-agent' }) }];
      if (i === 0) items.push({ seq: ++seq, finding: finding({ agentId: a.agentId, ip: '198.51.100.66', port: 8443, name: 'backdoor' }) });
      a.client.send({ type: 'findings', items });
      await a.client.next('ack');
    }
    const res = await api(server, 'GET', '/api/destinations');
    expect(res.json.fleet_hosts).toBe(3);
    expect(res.json.destinations.map((d: any) => [d.ip, d.port, d.hosts, d.processes])).toEqual([
      ['198.51.100.66', 8443, 1, ['backdoor']],
      ['203.0.113.50', 443, 3, ['update-agent']],
    ]);
    expect(res.json.destinations[1].host_ids.sort()).toEqual(agents.map((a) => a.agentId).sort());
    expect(res.json.destinations[0].prevalence).toBeCloseTo(1 / 3, 3);
    expect((await api(server, 'GET', '/api/destinations?max_hosts=1')).json.destinations).toHaveLength(1);
    for (const a of agents) a.client.close();
  });

  it('pages the audit log newest first', async () => {
    const { a, docs } = await seed();
    for (const status of ['investigating', 'closed', 'new'] as const) await api(server, 'PATCH', `/api/findings/${docs[0]!.event.id}`, { status });
    const first = await api(server, 'GET', '/api/audit?limit=2');
    expect(first.json.entries).toHaveLength(2);
    expect(first.json.entries[0].detail.status).toBe('new');
    const second = await api(server, 'GET', `/api/audit?limit=2&cursor=${first.json.next_cursor}`);
    expect(second.json.entries[0].detail.status).toBe('investigating');
    expect(second.json.entries[1].action).toBe('host.enroll');
    a.client.close();
  });
});

describe('mark benign', () => {
  it('creates a host rule from the finding, pushes the rule list to the agent now, sets false_positive', async () => {
    const { a, docs } = await seed();
    const id = docs[1]!.event.id;
    const res = await api(server, 'POST', `/api/findings/${id}/allow`, { comment: 'our build server' }, { 'X-Sockhunt-User': 'ana' });
    expect(res.status).toBe(201);
    expect(res.json.rule).toMatchObject({ scope: 'host', host: a.agentId, process: '/usr/bin/curl', destination: '198.51.100.2', port: 4444, transport: 'tcp', comment: 'our build server', created_by: 'ana' });
    expect(res.json.finding.sockhunt.status).toBe('false_positive');
    expect(res.json.pushed_to).toBe(1);
    const push = await a.client.next('request');
    expect(push.action).toBe('baseline.allow');
    expect(push.params).toEqual({ rules: [{ process: '/usr/bin/curl', destination: '198.51.100.2', port: 4444, transport: 'tcp', comment: 'our build server' }] });
    a.client.send({ type: 'reply', request_id: push.request_id, ok: true, result: { rules: 1 } });
    expect((await api(server, 'GET', '/api/allow')).json.rules).toHaveLength(1);
    expect((await api(server, 'GET', '/api/audit?action=finding.allow')).json.entries[0]).toMatchObject({ who: 'ana', target: id });
    a.client.close();
  });

  it('a fleet rule reaches every online agent now and offline ones in their next welcome', async () => {
    const { a, docs } = await seed();
    const other = await connectAgent(server, randomUUID(), { hostname: 'db-02' });
    const offline = await connectAgent(server, randomUUID(), { hostname: 'mail-03' });
    offline.client.close();
    await offline.client.closed;
    await sleep(30);
    // The evidence's process key (an interpreter with its script) wins over the bare executable.
    const doc = finding({ agentId: a.agentId, ip: '203.0.113.9', executable: '/usr/bin/python3.11', evidence: [{ summary: 's', processKey: '/usr/bin/python3.11 /opt/app/sync.py' }] });
    a.client.send({ type: 'findings', items: [{ seq: 50, finding: doc }] });
    await a.client.next('ack');
    const res = await api(server, 'POST', `/api/findings/${doc.event.id}/allow`, { fleet: true });
    expect(res.json.rule).toMatchObject({ scope: 'fleet', host: null, process: '/usr/bin/python3.11 /opt/app/sync.py' });
    expect(res.json.pushed_to).toBe(2);
    for (const c of [a.client, other.client]) {
      const req = await c.next('request');
      expect(req.params).toEqual({ rules: [expect.objectContaining({ process: '/usr/bin/python3.11 /opt/app/sync.py', destination: '203.0.113.9' })] });
    }
    const back = new TestClient(server.wsUrl);
    await back.opened;
    back.send(hello(offline.agentId, { token: offline.token }));
    expect((await back.next('welcome')).allow).toHaveLength(1);
    // Marking the same thing twice keeps one rule.
    await api(server, 'POST', `/api/findings/${doc.event.id}/allow`, { fleet: true });
    const rules = (await api(server, 'GET', '/api/allow')).json.rules;
    expect(rules).toHaveLength(1);
    // Deleting it pushes the shorter list.
    const del = await api(server, 'DELETE', `/api/allow/${rules[0].id}`);
    expect(del.json).toMatchObject({ deleted: true, pushed_to: 3 });
    const emptied = await back.next('request', (m) => m.action === 'baseline.allow' && (m.params.rules as unknown[]).length === 0);
    expect(emptied.params).toEqual({ rules: [] });
    expect((await api(server, 'DELETE', `/api/allow/${rules[0].id}`)).status).toBe(404);
    expect(docs).toHaveLength(4);
    for (const c of [a.client, other.client, back]) c.close();
  });

  it('refuses a finding without a process (422) and validates the body', async () => {
    const { a } = await seed();
    const doc = finding({ agentId: a.agentId, executable: null, name: null });
    a.client.send({ type: 'findings', items: [{ seq: 60, finding: doc }] });
    await a.client.next('ack');
    const res = await api(server, 'POST', `/api/findings/${doc.event.id}/allow`, {});
    expect(res.status).toBe(422);
    expect(res.json.error.code).toBe('SOCKHUNT_E_API_UNATTRIBUTED');
    expect((await api(server, 'POST', `/api/findings/${doc.event.id}/allow`, { fleet: 'yes' })).status).toBe(400);
    expect((await api(server, 'POST', '/api/findings/nope/allow', {})).status).toBe(404);
    a.client.close();
  });
});

describe('live response', () => {
  it('sends a snapshot request to the agent and returns its rows; audited', async () => {
    const a = await connectAgent(server);
    const rows = [
      { process: { pid: 42, name: 'sshd' }, source: { ip: '0.0.0.0', port: 22 }, destination: { ip: '0.0.0.0', port: 0 }, network: { transport: 'tcp' }, socket: { state: 'LISTEN' } },
      { process: { pid: 4242, name: '<script>alert(1)</script>' }, source: { ip: '192.0.2.2', port: 40000 }, destination: { ip: '198.51.100.66', port: 8443 }, network: { transport: 'tcp' }, socket: { state: 'ESTABLISHED' } },
    ];
    a.client.ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.type === 'request' && msg.action === 'snapshot') {
        expect(msg.params).toEqual({ filters: { state: ['ESTABLISHED', 'LISTEN'] } });
        a.client.send({ type: 'reply', request_id: msg.request_id, ok: true, result: { rows } });
      }
    });
    const res = await api(server, 'POST', `/api/hosts/${a.agentId}/snapshot`, { filters: { state: ['ESTABLISHED', 'LISTEN'] } }, { 'X-Sockhunt-User': 'ana' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ host: a.agentId, hostname: 'web-01', count: 2, rows });
    const audit = (await api(server, 'GET', '/api/audit?action=live_response.snapshot')).json.entries[0];
    expect(audit).toMatchObject({ who: 'ana', target: a.agentId, detail: { ok: true, rows: 2 } });
    a.client.close();
  });

  it('offline → 409, no reply in time → 504, agent failure → 502, unknown host → 404, bad params → 400', async () => {
    const a = await connectAgent(server);
    const silent = await connectAgent(server);
    a.client.ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.type === 'request') a.client.send({ type: 'reply', request_id: msg.request_id, ok: false, error: { code: 'SOCKHUNT_E_COLLECT', message: 'permission denied' } });
    });
    const failed = await api(server, 'POST', `/api/hosts/${a.agentId}/snapshot`);
    expect(failed.status).toBe(502);
    expect(failed.json.error).toMatchObject({ code: 'SOCKHUNT_E_API_AGENT', message: expect.stringContaining('permission denied') });
    const t0 = Date.now();
    const timeout = await api(server, 'POST', `/api/hosts/${silent.agentId}/snapshot`);
    expect(timeout.status).toBe(504);
    expect(timeout.json.error.code).toBe('SOCKHUNT_E_API_TIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    // A late reply after the timeout is ignored quietly.
    const late = await silent.client.next('request');
    silent.client.send({ type: 'reply', request_id: late.request_id, ok: true, result: [] });
    silent.client.close();
    await silent.client.closed;
    await sleep(30);
    const offline = await api(server, 'POST', `/api/hosts/${silent.agentId}/snapshot`);
    expect(offline.status).toBe(409);
    expect(offline.json.error.code).toBe('SOCKHUNT_E_API_OFFLINE');
    expect((await api(server, 'POST', `/api/hosts/${randomUUID()}/snapshot`)).status).toBe(404);
    expect((await api(server, 'POST', `/api/hosts/${a.agentId}/snapshot`, { filters: { port: 70000 } })).status).toBe(400);
    // A reply with something other than rows is an agent failure, not a crash.
    const odd = await connectAgent(server);
    odd.client.ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.type === 'request') odd.client.send({ type: 'reply', request_id: msg.request_id, ok: true, result: 'rows!' });
    });
    expect((await api(server, 'POST', `/api/hosts/${odd.agentId}/snapshot`)).status).toBe(502);
    a.client.close();
    odd.client.close();
  });

  it('an agent that disconnects while the request waits → 409', async () => {
    const a = await connectAgent(server);
    a.client.ws.on('message', (data) => {
      if (JSON.parse(data.toString()).type === 'request') a.client.close();
    });
    const res = await api(server, 'POST', `/api/hosts/${a.agentId}/snapshot`);
    expect(res.status).toBe(409);
    expect(res.json.error.message).toContain('disconnected');
  });
});
