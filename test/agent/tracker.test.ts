import { describe, expect, it } from 'vitest';
import { ConnectionTracker, EndedTuples } from '../../agent/tracker.js';
import type { Connection } from '../../collectors/types.js';
import type { ConntrackFlow } from '../../collectors/conntrack.js';
import { row as connection } from '../support/rows.js';

function row(o: { pid?: number | null; sport: number; dst?: string; dport?: number; state?: Connection['socket']['state']; inode?: number }): Connection {
  const pid = o.pid === undefined ? 50 : o.pid;
  return connection({
    ts: '2026-11-28T00:00:00.000Z',
    hostName: 'h',
    pid,
    name: pid ? 'beacon' : null,
    executable: pid ? '/tmp/beacon' : null,
    commandLine: null,
    ppid: null,
    parentName: null,
    user: pid ? 'www-data' : null,
    uid: pid ? '33' : null,
    srcIp: '192.0.2.10',
    srcPort: o.sport,
    dstIp: o.dst ?? '203.0.113.5',
    dstPort: o.dport ?? 8443,
    direction: 'egress',
    state: o.state ?? 'ESTABLISHED',
    inode: o.inode ?? (pid ? 1000 + o.sport : 0),
  });
}
const keyOf = (r: Connection): string | null => r.process.executable;

describe('ConnectionTracker', () => {
  it('counts a connection once across samples, and its TIME_WAIT leftover is not a new start', () => {
    const t = new ConnectionTracker(keyOf);
    expect(t.update([row({ sport: 40000 })], 1000).started).toHaveLength(1);
    expect(t.update([row({ sport: 40000 })], 2000).started).toHaveLength(0);
    const after = t.update([row({ sport: 40000, pid: null, state: 'TIME_WAIT', inode: 0 })], 3000);
    expect(after.started).toHaveLength(0);
    const gone = t.update([], 63_000);
    expect(gone.ended).toHaveLength(1);
    expect(gone.ended[0]!.end).toBe(2000);
  });

  it('recovers short connections from TIME_WAIT and attributes them to the last owner of that destination', () => {
    const t = new ConnectionTracker(keyOf);
    t.update([row({ sport: 40000 })], 1000);
    const u = t.update([row({ sport: 40001, pid: null, state: 'TIME_WAIT', inode: 0 })], 5000);
    expect(u.started).toHaveLength(1);
    expect(u.started[0]).toMatchObject({ ts: 5000, processKey: '/tmp/beacon', attribution: 'inferred', row: { process: { pid: 50 } } });
    const stranger = t.update([row({ sport: 40002, pid: null, state: 'TIME_WAIT', inode: 0, dst: '198.51.100.9' })], 6000);
    expect(stranger.started[0]).toMatchObject({ processKey: null, attribution: 'none' });
  });

  it('recovers flows from conntrack that left no socket behind, only those this host started', () => {
    const t = new ConnectionTracker(keyOf);
    const flow = (sport: number, src = '192.0.2.10'): ConntrackFlow => ({ transport: 'udp', family: 'inet', srcIp: src, srcPort: sport, dstIp: '198.51.100.53', dstPort: 53, state: null, unreplied: false });
    const isLocal = (ip: string): boolean => ip === '192.0.2.10';
    t.update([], 0);
    const u = t.update([], 1000, [flow(5000), flow(5001), flow(5002, '198.51.100.1')], isLocal);
    expect(u.started.map((e) => e.row.source.port)).toEqual([5000, 5001]);
    expect(u.started[0]).toMatchObject({ attribution: 'none', row: { destination: { ip: '198.51.100.53', port: 53 }, network: { transport: 'udp' } } });
    expect(t.update([], 2000, [flow(5000), flow(5001)], isLocal).started).toHaveLength(0);
  });

  it('dates a TIME_WAIT trace by its timer: when the connection closed, not when the sample saw it', () => {
    const t = new ConnectionTracker(keyOf);
    const tw = row({ sport: 40010, pid: null, state: 'TIME_WAIT', inode: 0 });
    tw.socket.timer_ms = 59_250; // 750 ms into the 60 s TIME_WAIT
    t.update([], 9_000);
    expect(t.update([tw], 10_000).started[0]!.ts).toBe(9_250);
  });

  it('does not count the traces already there when it starts watching', () => {
    const t = new ConnectionTracker(keyOf);
    expect(t.update([row({ sport: 40020, pid: null, state: 'TIME_WAIT', inode: 0 })], 1000).started).toHaveLength(0);
    expect(t.update([row({ sport: 40020, pid: null, state: 'TIME_WAIT', inode: 0 }), row({ sport: 40021, pid: null, state: 'TIME_WAIT', inode: 0 })], 2000).started).toHaveLength(1);
  });

  it('ignores listeners and unconnected UDP', () => {
    const t = new ConnectionTracker(keyOf);
    expect(t.update([row({ sport: 22, state: 'LISTEN', dst: '0.0.0.0', dport: 0 })], 1000).started).toHaveLength(0);
  });

  it('hands the number attached to a start back with its end (the history row id)', () => {
    const t = new ConnectionTracker(keyOf);
    const u = t.update([row({ sport: 40000 }), row({ sport: 40001 }), row({ sport: 40002, pid: null, state: 'TIME_WAIT', inode: 0 })], 1000);
    expect(u.started).toHaveLength(2);
    t.attach(500);
    // the next sample's starts get their own numbers; a connection never attached ends with 0
    const next = t.update([row({ sport: 40000 }), row({ sport: 40003 })], 2000);
    const gone = t.update([], 3000);
    const refs = new Map([...next.ended, ...gone.ended].map((e) => [e.event.row.source.port, e.ref]));
    expect(refs.get(40001)).toBe(501);
    expect(refs.get(40000)).toBe(500);
    expect(refs.get(40003)).toBe(0);
    expect(refs.get(40002)).toBe(0); // a trace at the first sample is not a start
  });

  it('remembers ended tuples compactly, for ten minutes', () => {
    const t = new ConnectionTracker(keyOf);
    const rows = Array.from({ length: 3000 }, (_, i) => row({ sport: 10000 + i }));
    t.update(rows, 0);
    t.update([], 1000);
    expect(t.endedCount).toBe(3000);
    // a TIME_WAIT trace of an ended connection is not a new start
    expect(t.update([row({ sport: 10005, pid: null, state: 'TIME_WAIT', inode: 0 })], 2000).started).toHaveLength(0);
    t.update([], 3000); // the trace is gone: it ends again
    t.update([], 10 * 60_000 + 2000);
    expect(t.endedCount).toBe(1);
    t.update([], 10 * 60_000 + 4000);
    expect(t.endedCount).toBe(0);
  });
});

describe('EndedTuples', () => {
  it('agrees with a Map through adds, refreshes, growth and expiry', () => {
    const set = new EndedTuples();
    const ref = new Map<string, number>();
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    let now = 0;
    for (let step = 0; step < 30_000; step++) {
      now += 10;
      const key = `|tcp|192.0.2.2|${rand(5000)}|198.51.100.${rand(50)}|443`;
      if (rand(3) === 0) {
        expect(set.has(key)).toBe(ref.has(key));
      } else {
        set.add(key, now);
        ref.delete(key); // a refresh moves it to the end, as the ring does
        ref.set(key, now);
      }
      if (step % 100 === 0) {
        const before = now - 20_000;
        set.expire(before, 4000);
        for (const [k, at] of ref) {
          if (at >= before && ref.size <= 4000) break;
          ref.delete(k);
        }
        expect(set.size).toBe(ref.size);
      }
    }
    for (const k of ref.keys()) expect(set.has(k)).toBe(true);
  });
});
