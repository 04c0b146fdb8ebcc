// The loop end to end over a scripted socket table (real store, real detectors): learning, then hunting.
import { eventIdTime } from '../../core/event-id.js';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../collectors/types.js';
import { ScriptedCollector } from '../support/scripted-collector.js';
import { row } from '../support/rows.js';
import { tempAgentStore as store } from '../support/stores.js';
import { AgentLoop } from '../../agent/loop.js';
import { HostFactsSource } from '../../agent/host-facts.js';
import { parseConfig } from '../../agent/config.js';
import { configureDetectors } from '../../agent/detect/index.js';

let inode = 100;
function conn(o: { pid?: number | null; exe?: string; dst: string; dport: number; sport: number; state?: Connection['socket']['state'] }): Connection {
  const pid = o.pid === undefined ? 4242 : o.pid;
  const exe = o.exe ?? '/usr/bin/poller';
  return row({
    ts: Date.now(),
    hostName: 'h',
    pid,
    name: pid ? exe.split('/').pop()! : null,
    executable: pid ? exe : null,
    commandLine: null,
    user: pid ? 'svc' : null,
    uid: pid ? '998' : null,
    srcIp: '192.0.2.10',
    srcPort: o.sport,
    dstIp: o.dst,
    dstPort: o.dport,
    direction: 'egress',
    state: o.state ?? 'ESTABLISHED',
    inode: pid ? inode++ : 0,
  });
}

describe('AgentLoop', () => {
  const config = parseConfig({ conntrack: false, netns: 'self' });

  it('learns destinations seen only as unowned traces, so their owner is not "first seen" later', async () => {
    const s = store();
    const c = new ScriptedCollector();
    const host = { name: 'h', id: s.db.agentId() };
    const learn = new AgentLoop({ collector: c, store: s, config, mode: 'learn', host, detectors: [] });
    // An unrelated process makes the baseline non-empty; the poller is only ever seen as TIME_WAIT leftovers.
    c.rows = [conn({ exe: '/usr/sbin/sshd', dst: '198.51.100.22', dport: 22, sport: 50000 })];
    let t = Date.now() - 60_000;
    for (let i = 0; i < 5; i++) {
      c.rows = [c.rows[0]!, conn({ pid: null, dst: '203.0.113.10', dport: 443, sport: 40000 + i, state: 'TIME_WAIT' })];
      await learn.sample((t += 1000));
    }
    const hunt = new AgentLoop({ collector: c, store: s, config, mode: 'hunt', host, detectors: configureDetectors({}) });
    c.rows = [c.rows[0]!, conn({ dst: '203.0.113.10', dport: 443, sport: 41000 })];
    const stats = await hunt.sample((t += 1000));
    expect(stats.findings.map((f) => f.doc.hunt.detector)).toEqual([]);
    // The same process to a destination nobody used is a finding, with the process and destination.
    c.rows = [c.rows[0]!, conn({ dst: '198.51.100.66', dport: 4444, sport: 41001 })];
    const next = await hunt.sample((t += 1000));
    expect(next.findings.length).toBeGreaterThan(0);
    expect(next.findings[0]!.doc).toMatchObject({ process: { pid: 4242, executable: '/usr/bin/poller' }, destination: { ip: '198.51.100.66', port: 4444 } });
    s.close();
  });

  it('folds repeats into one finding with a count and keeps its ids', async () => {
    const s = store();
    const c = new ScriptedCollector();
    const host = { name: 'h', id: s.db.agentId() };
    const hunt = new AgentLoop({ collector: c, store: s, config, mode: 'hunt', host, detectors: configureDetectors({}) });
    let t = Date.now();
    const ids = new Set<string>();
    let last = 0;
    const firstSample = t + 1000;
    for (let i = 0; i < 5; i++) {
      c.rows = [conn({ exe: '/tmp/.x/implant', dst: '198.51.100.66', dport: 4444, sport: 42000 + i })];
      for (const f of (await hunt.sample((t += 1000))).findings) {
        if (f.doc.hunt.detector !== 'nonstandard-port') continue;
        ids.add(`${f.doc.event.id} ${f.doc.hunt.id}`);
        last = f.doc.hunt.count;
      }
    }
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^[0-9a-f-]{36} TH-HUNTIN-\d{8}-\d{4}$/);
    // a UUIDv7 whose time is the sample's that first saw it (time-ordered ids keep the server's index appending)
    expect([...ids][0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab]/);
    expect(eventIdTime([...ids][0]!.split(' ')[0]!)).toBe(firstSample);
    expect(last).toBe(5);
    expect(s.findings.list({}).filter((f) => f.detector === 'nonstandard-port')).toHaveLength(1);
    s.close();
  });

  it('writes a sample all or nothing: a failed finding write leaves no history, in the database or the window', async () => {
    const s = store();
    const c = new ScriptedCollector();
    const host = { name: 'h', id: s.db.agentId() };
    const hunt = new AgentLoop({ collector: c, store: s, config, mode: 'hunt', host, detectors: configureDetectors({}) });
    let t = Date.now();
    c.rows = [conn({ exe: '/usr/sbin/sshd', dst: '198.51.100.22', dport: 22, sport: 50000 })];
    await hunt.sample((t += 1000));
    expect(s.history.count()).toBe(1);
    const insert = s.findings.insert.bind(s.findings);
    s.findings.insert = () => {
      throw new Error('disk full');
    };
    c.rows = [c.rows[0]!, conn({ exe: '/tmp/.x/implant', dst: '198.51.100.66', dport: 4444, sport: 42000 })];
    await expect(hunt.sample((t += 1000))).rejects.toMatchObject({ code: 'SOCKHUNT_E_DB_WRITE' });
    expect(s.history.count()).toBe(1);
    expect(s.history.view().starts('/tmp/.x/implant', '198.51.100.66', 4444, 'tcp')).toEqual([]);
    s.findings.insert = insert;
    s.close();
  });

  it('marks a connection’s end on its history row', async () => {
    const s = store();
    const c = new ScriptedCollector();
    const host = { name: 'h', id: s.db.agentId() };
    const learn = new AgentLoop({ collector: c, store: s, config, mode: 'learn', host, detectors: [] });
    let t = Date.now();
    const a = conn({ exe: '/usr/bin/poller', dst: '198.51.100.22', dport: 443, sport: 50000 });
    const b = conn({ exe: '/usr/bin/poller', dst: '198.51.100.22', dport: 443, sport: 50001 });
    c.rows = [a, b];
    await learn.sample((t += 1000));
    const seenLast = (t += 1000);
    await learn.sample(seenLast);
    c.rows = [b];
    await learn.sample((t += 1000));
    const rows = s.history.query();
    expect(rows).toHaveLength(2);
    expect(rows.filter((r) => r.endedAt === seenLast)).toHaveLength(1);
    expect(rows.filter((r) => r.endedAt === null)).toHaveLength(1);
    s.close();
  });
});

describe('destination names', () => {
  it('trusts answers only from the host’s resolvers and local stubs, and goes on when reading them fails', async () => {
    const s = store();
    const c = new ScriptedCollector();
    const reader = {
      readText: (p: string) => (p === '/test/resolv.conf' ? 'nameserver 192.0.2.53\n' : null),
      readdir: () => null,
      readlink: () => null,
      ownerUid: () => null,
    };
    const asked: Array<Record<string, boolean>> = [];
    let fail = false;
    const dnsNames = {
      poll(_now: number, fromServer: (ip: string) => boolean) {
        if (fail) throw new Error('dns tap: recvfrom: ENOBUFS');
        asked.push(Object.fromEntries(['192.0.2.53', '127.0.0.53', '::1', '198.51.100.250', '192.0.2.54'].map((ip) => [ip, fromServer(ip)])));
        return { drops: 3 };
      },
      lookup: (ip: string) => (ip === '203.0.113.77' ? 'pool.example.test' : null),
    };
    const loop = new AgentLoop({
      collector: c,
      store: s,
      config: parseConfig({ conntrack: false, netns: 'self' }),
      mode: 'hunt',
      host: { name: 'h', id: s.db.agentId() },
      detectors: configureDetectors({}),
      hostFacts: new HostFactsSource({ reader, resolvConf: '/test/resolv.conf' }),
      dnsNames,
    });
    c.rows = [conn({ exe: '/usr/bin/curl', dst: '203.0.113.77', dport: 443, sport: 41000 })];
    const t = Date.now();
    const ok = await loop.sample(t);
    expect(ok.namesError).toBeUndefined();
    expect(ok.namesDropped).toBe(3); // reported, so that the agent can say names may be missing
    expect(asked).toEqual([{ '192.0.2.53': true, '127.0.0.53': true, '::1': true, '198.51.100.250': false, '192.0.2.54': false }]);
    fail = true;
    c.rows = [conn({ exe: '/usr/bin/curl', dst: '203.0.113.77', dport: 443, sport: 41001 })];
    const failed = await loop.sample(t + 1000);
    expect(String((failed.namesError as Error).message)).toContain('ENOBUFS');
    expect(failed.sockets).toBe(1); // the sample itself went on
    s.close();
  });
});
