// A jittered beacon through the real loop and store: reported early (few check-ins, Low confidence), then the same
// finding — same event id and hunt id — is raised once the series confirms the rhythm.
import { afterEach, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connection } from '../../../collectors/types.js';
import { ScriptedCollector } from '../../support/scripted-collector.js';
import { openAgentStore } from '../../../store/agent/index.js';
import { AgentLoop } from '../../../agent/loop.js';
import { parseConfig } from '../../../agent/config.js';
import { configureDetectors } from '../../../agent/detect/index.js';
import { prng } from './fixtures.js';

let inode = 500;
function conn(pid: number, exe: string, dst: string, dport: number, sport: number): Connection {
  return {
    '@timestamp': new Date().toISOString(),
    host: { name: 'h' },
    process: { pid, name: exe.split('/').pop()!, executable: exe, command_line: exe, parent: { pid: 1, name: 'systemd' } },
    user: { name: 'svc', id: '998' },
    source: { ip: '192.0.2.10', port: sport },
    destination: { ip: dst, port: dport },
    network: { transport: 'tcp', type: 'ipv4', direction: 'egress' },
    socket: { state: 'ESTABLISHED', inode: inode++, family: 'inet', owner_pids: [pid] },
  };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('a ±20% jittered beacon is reported by its 6th check-in and confirmed later as the same finding', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sockhunt-beacon-loop-'));
  dirs.push(dir);
  const store = openAgentStore(join(dir, 'agent.db'), { quickCheck: false });
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
