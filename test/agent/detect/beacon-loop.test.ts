// A jittered beacon through the real loop and store: reported early (few check-ins, Low confidence), then the same
// finding — same event id and hunt id — is raised once the series confirms the rhythm.
import { expect, it } from 'vitest';
import type { Connection } from '../../../collectors/types.js';
import { ScriptedCollector } from '../../support/scripted-collector.js';
import { row } from '../../support/rows.js';
import { tempAgentStore } from '../../support/stores.js';
import { AgentLoop } from '../../../agent/loop.js';
import { parseConfig } from '../../../agent/config.js';
import { configureDetectors } from '../../../agent/detect/index.js';
import { prng } from '../../support/prng.js';

let inode = 500;
function conn(pid: number, exe: string, dst: string, dport: number, sport: number): Connection {
  return row({
    ts: Date.now(),
    hostName: 'h',
    pid,
    name: exe.split('/').pop()!,
    executable: exe,
    commandLine: exe,
    user: 'svc',
    uid: '998',
    srcIp: '192.0.2.10',
    srcPort: sport,
    dstIp: dst,
    dstPort: dport,
    direction: 'egress',
    inode: inode++,
  });
}

it('a ±20% jittered beacon is reported by its 6th check-in and confirmed later as the same finding', async () => {
  const store = tempAgentStore();
  const config = parseConfig({ conntrack: false, netns: 'self' });
  const host = { name: 'h', id: store.db.agentId() };
  const c = new ScriptedCollector();
  // A mature baseline: five services with their usual long-lived connections.
  const services = [1, 2, 3, 4, 5].map((i) => conn(100 + i, `/usr/sbin/svc${i}`, `198.51.100.${i}`, 443, 30000 + i));
  let t = Date.now() - 3_600_000;
  const learn = new AgentLoop({ collector: c, store, config, mode: 'learn', host, detectors: [] });
  c.rows = services;
  for (let i = 0; i < 5; i++) await learn.sample((t += 1000));

  const hunt = new AgentLoop({ collector: c, store, config, mode: 'hunt', host, detectors: configureDetectors({}) });
  const rand = prng(20261128);
  const period = 10_000;
  let nextCheckIn = t + 5_000;
  let checkIns = 0;
  const seen: Array<{ checkIns: number; id: string; stage: unknown; confidence: string; risk: string }> = [];
  for (let s = 0; s < 160 && checkIns < 14; s++) {
    t += 1000;
    const beaconNow = t >= nextCheckIn;
    if (beaconNow) {
      checkIns++;
      nextCheckIn += period * (1 + 0.2 * (2 * rand() - 1));
    }
    // each check-in is one short connection, open during exactly one sample
    c.rows = beaconNow ? [...services, conn(4242, '/tmp/.x/updater', '203.0.113.66', 443, 41000 + checkIns)] : services;
    for (const f of (await hunt.sample(t)).findings) {
      if (f.doc.hunt.detector !== 'beacon') continue;
      const timings = f.doc.hunt.evidence.find((e) => 'timings' in e)?.['timings'] as Record<string, unknown>;
      seen.push({ checkIns, id: `${f.doc.event.id} ${f.doc.hunt.id}`, stage: timings['stage'], confidence: f.doc.hunt.confidence, risk: f.doc.hunt.risk });
    }
  }
  store.close();
  expect(seen.length, JSON.stringify(seen)).toBeGreaterThan(0);
  expect(seen[0]!.checkIns).toBeLessThanOrEqual(6);
  expect(seen[0]).toMatchObject({ stage: 'early', confidence: 'Low' });
  expect(new Set(seen.map((s) => s.id)).size).toBe(1);
  const last = seen[seen.length - 1]!;
  expect(last).toMatchObject({ stage: 'confirmed', confidence: 'High' });
  expect(['Medium', 'High', 'Critical']).toContain(last.risk);
});
