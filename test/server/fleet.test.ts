import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { assessPrevalence, fleetView, rescore } from '../../server/fleet.js';
import { HOST_FACTS, api, connectAgent, startTestServer, type TestServer } from '../support/server.js';
import { finding } from '../support/findings.js';

describe('prevalence modifier (RITA)', () => {
  it('raises rare destinations, lowers common ones, and says why', () => {
    expect(assessPrevalence(1, 100)).toMatchObject({ hosts: 1, prevalence: 0.01, modifier: 0.15 });
    expect(assessPrevalence(1, 100).reason).toBe('seen from 1 of 100 hosts (1%): rare in the fleet (≤ 2%), score +0.15');
    expect(assessPrevalence(2, 100).modifier).toBe(0.15);
    expect(assessPrevalence(3, 100)).toMatchObject({ modifier: 0, reason: 'seen from 3 of 100 hosts (3%): neither rare nor common, score unchanged' });
    expect(assessPrevalence(50, 100)).toMatchObject({ modifier: -0.15, reason: 'seen from 50 of 100 hosts (50%): common in the fleet (≥ 50%), score −0.15' });
  });

  it('does not lower anything in a small fleet, and says that rarity needs a larger one', () => {
    expect(assessPrevalence(3, 3)).toMatchObject({ modifier: 0, prevalence: 1 });
    expect(assessPrevalence(3, 3).reason).toContain('prevalence needs ≥ 5 hosts before it lowers anything');
    expect(assessPrevalence(1, 1).reason).toContain('seen from 1 of 1 host (100%)');
    expect(assessPrevalence(5, 5).modifier).toBe(-0.15);
    expect(assessPrevalence(1, 10)).toMatchObject({ modifier: 0 });
    expect(assessPrevalence(1, 10).reason).toContain('rare (≤ 2%) only in fleets of ≥ 50 hosts');
  });

  it('re-bands the score with the agent bands and keeps the agent risk when unmodified', () => {
    expect(rescore(0.55, 'Medium', assessPrevalence(1, 100))).toEqual({ score: 0.7, risk: 'High' });
    expect(rescore(0.7, 'High', assessPrevalence(80, 100))).toEqual({ score: 0.55, risk: 'Medium' });
    expect(rescore(0.95, 'Critical', assessPrevalence(1, 100))).toEqual({ score: 1, risk: 'Critical' });
    expect(rescore(0.1, 'Low', assessPrevalence(99, 100))).toEqual({ score: 0, risk: 'Low' });
    expect(rescore(0.62, 'High', assessPrevalence(10, 100))).toEqual({ score: 0.62, risk: 'High' });
  });

  it('shows a pending re-score when the applied modifier lags the fleet', () => {
    expect(fleetView(1, 100, 0).reason).toContain('(re-scoring pending)');
    expect(fleetView(1, 100, 0.15).reason).not.toContain('pending');
  });
});

describe('fleet re-scoring with simulated hosts', () => {
  let server: TestServer;
  beforeEach(async () => {
    server = await startTestServer();
  });
  afterEach(async () => {
    await server.stop();
  });

  async function enrollQuietly(n: number): Promise<string[]> {
    const ids = Array.from({ length: n }, () => randomUUID());
    for (const id of ids) {
      await server.store.enrollHost({ agentId: id, facts: { ...HOST_FACTS, hostname: `quiet-${id.slice(0, 4)}` }, agentVersion: 't', tokenHash: randomUUID().replace(/-/g, '') + 'a'.repeat(32), now: Date.now() }, { who: 'test', action: 'host.enroll', target: id });
    }
    await server.app.refreshFleet();
    return ids;
  }

  async function send(agents: Array<{ agentId: string; client: any }>, ip: string, risk: 'High' | 'Medium', score: number, seqBase: number): Promise<string[]> {
    const ids: string[] = [];
    for (const [i, a] of agents.entries()) {
      const doc = finding({ agentId: a.agentId, ip, risk, score });
      ids.push(doc.event.id);
      a.client.send({ type: 'findings', items: [{ seq: seqBase + i, finding: doc }] });
      await a.client.next('ack');
    }
    return ids;
  }

  it('a destination one host of sixty talks to is raised; one most hosts talk to is lowered, earlier findings too', async () => {
    const agents = await Promise.all(Array.from({ length: 60 }, (_, i) => connectAgent(server, randomUUID(), { hostname: `h${i}` })));
    const [rare] = await send(agents.slice(0, 1), '198.51.100.66', 'Medium', 0.55, 1);
    const common = await send(agents.slice(0, 40), '203.0.113.80', 'High', 0.7, 100);

    const r = (await api(server, 'GET', `/api/findings/${rare}`)).json.finding;
    expect(r.hunt).toMatchObject({ risk: 'High', score: 0.7, endpoint_risk: 'Medium' });
    expect(r.hunt.fleet).toMatchObject({ hosts: 1, modifier: 0.15 });
    expect(r.hunt.fleet.reason).toBe('seen from 1 of 60 hosts (1.7%): rare in the fleet (≤ 2%), score +0.15');
    expect(r.sockhunt.endpoint_score).toBe(0.55);

    // Every finding of the common destination, including those sent while it was still rare, is lowered.
    for (const id of common) {
      const c = (await api(server, 'GET', `/api/findings/${id}`)).json.finding;
      expect(c.hunt).toMatchObject({ risk: 'Medium', score: 0.55, endpoint_risk: 'High' });
      expect(c.hunt.fleet).toMatchObject({ hosts: 40, modifier: -0.15 });
      expect(c.hunt.fleet.reason).toContain('seen from 40 of 60 hosts (67%): common in the fleet');
    }
    // Ranked by risk then rarity: the rare one (now High) before the common ones (now Medium).
    const list = (await api(server, 'GET', '/api/findings?limit=3')).json.findings;
    expect(list[0].event.id).toBe(rare);
    expect((await api(server, 'GET', '/api/findings?risk=high')).json.findings).toHaveLength(1);
    for (const a of agents) a.client.close();
  });

  it('re-scores stored findings when the fleet grows or hosts are revoked', async () => {
    const agents = await Promise.all(Array.from({ length: 2 }, () => connectAgent(server)));
    const ids = await send(agents, '198.51.100.7', 'Medium', 0.5, 1);
    // 2 of 2 hosts, a fleet too small to lower anything.
    let f = (await api(server, 'GET', `/api/findings/${ids[0]}`)).json.finding;
    expect(f.hunt).toMatchObject({ risk: 'Medium', score: 0.5 });
    expect(f.hunt.fleet.reason).toContain('needs ≥ 5 hosts');

    // 2 of 120 hosts: rare now.
    const quiet = await enrollQuietly(118);
    for (const id of ids) {
      f = (await api(server, 'GET', `/api/findings/${id}`)).json.finding;
      expect(f.hunt).toMatchObject({ risk: 'High', score: 0.65 });
      expect(f.hunt.fleet).toMatchObject({ hosts: 2, modifier: 0.15 });
      expect(f.hunt.fleet.reason).not.toContain('pending');
    }

    // Revoke most of the fleet: 2 of 4, common, lowered; and revoking one of the two talkers recounts it.
    for (const id of quiet.slice(2)) await api(server, 'DELETE', `/api/hosts/${id}`);
    await server.app.refreshFleet();
    f = (await api(server, 'GET', `/api/findings/${ids[0]}`)).json.finding;
    expect(f.hunt.fleet).toMatchObject({ hosts: 2, modifier: 0 });
    expect(f.hunt.fleet.reason).toContain('seen from 2 of 4 hosts');
    await api(server, 'DELETE', `/api/hosts/${agents[1]!.agentId}`);
    await server.app.refreshFleet();
    f = (await api(server, 'GET', `/api/findings/${ids[0]}`)).json.finding;
    expect(f.hunt.fleet).toMatchObject({ hosts: 1 });
    expect(f.hunt.fleet.reason).toContain('seen from 1 of 3 hosts');
    for (const a of agents) a.client.close();
  });
});
