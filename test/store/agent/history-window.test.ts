// The in-memory history window: what it holds per start, pair versions, and undoing a rolled-back transaction.
import { describe, expect, it } from 'vitest';
import { HistoryWindow } from '../../../store/agent/history-window.js';
import { row } from '../../support/rows.js';

const KEY = '/usr/bin/curl';
const IP = '203.0.113.10';

describe('HistoryWindow', () => {
  it('holds numbers per start: attribution bytes only once a start was not read from a socket', () => {
    const w = new HistoryWindow(60 * 60_000, 10_000);
    for (let i = 0; i < 1000; i++) w.add(KEY, IP, 443, 'tcp', i * 1000, 'socket');
    expect(w.stats()).toEqual({ pairs: 1, starts: 1000, attributionBytes: 0 });
    w.add(KEY, IP, 443, 'tcp', 500_500, 'inferred');
    const { attributionBytes } = w.stats();
    expect(attributionBytes).toBeGreaterThanOrEqual(1001);
    expect(attributionBytes).toBeLessThan(2000);
    const events = w.events(KEY, IP, 443, 'tcp');
    expect(events).toHaveLength(1001);
    expect(events[501]).toEqual({ ts: 500_500, attribution: 'inferred' });
    expect(events.filter((e) => e.attribution !== 'socket')).toHaveLength(1);
    // aging out keeps codes aligned with their starts and gives memory back
    w.advance(60 * 60_000 + 900_000);
    expect(w.starts(KEY, IP, 443, 'tcp')).toEqual([900_000, 901_000, 902_000, 903_000, 904_000, 905_000, 906_000, 907_000, 908_000, 909_000].concat(Array.from({ length: 90 }, (_, i) => 910_000 + i * 1000)));
    expect(w.events(KEY, IP, 443, 'tcp').every((e) => e.attribution === 'socket')).toBe(true);
    expect(w.stats().attributionBytes).toBeLessThan(300);
  });

  it('keeps of a row only its owner (process, user, host objects)', () => {
    const w = new HistoryWindow(60_000, 100);
    const r = row({ dstIp: IP, pid: 77 });
    w.add(KEY, IP, 443, 'tcp', 1000, 'socket', r);
    const last = w.lastRow(KEY, IP, 443, 'tcp')!;
    expect(last.process).toBe(r.process);
    expect(last.user).toBe(r.user);
    expect(last.host).toBe(r.host);
    expect(last).not.toBe(r);
    expect(last.socket).toMatchObject({ state: 'UNKNOWN', inode: 0 });
  });

  it('versions pairs: a change bumps the version of that pair only; pairs() is the same array until a pair comes or goes', () => {
    const w = new HistoryWindow(60_000, 100);
    w.add(KEY, IP, 443, 'tcp', 1000);
    w.add(KEY, IP, 80, 'tcp', 50_000);
    const list = w.pairs();
    const [a, b] = list.map((p) => ({ p, v: p.version! }));
    expect(w.pairs()).toBe(list);
    w.add(KEY, IP, 80, 'tcp', 52_000);
    expect(a!.p.version).toBe(a!.v);
    expect(b!.p.version).toBeGreaterThan(b!.v);
    expect(w.pairs()).toBe(list);
    // the 443 pair ages out entirely: the array changes
    w.advance(61_500);
    expect(w.pairs()).not.toBe(list);
    expect(w.pairs()).toEqual([b!.p]);
    expect(b!.p.starts).toEqual([50_000, 52_000]);
  });

  it('undoes journaled changes on rollback, starts dropped by the cap included', () => {
    const w = new HistoryWindow(60_000, 3);
    w.add(KEY, IP, 443, 'tcp', 10, 'socket');
    w.add(KEY, IP, 443, 'tcp', 20, 'none');
    w.add(KEY, IP, 443, 'tcp', 30, 'socket');
    const list = w.pairs();
    const version = list[0]!.version;
    const mark = w.beginJournal();
    w.add(KEY, IP, 443, 'tcp', 40, 'inferred'); // drops 10
    w.add(KEY, IP, 443, 'tcp', 25, 'socket'); // late: drops 20
    w.add(KEY, '198.51.100.9', 53, 'udp', 35, 'none'); // a new pair
    expect(w.starts(KEY, IP, 443, 'tcp')).toEqual([25, 30, 40]);
    expect(w.size()).toBe(2);
    w.rollbackTo(mark);
    expect(w.starts(KEY, IP, 443, 'tcp')).toEqual([10, 20, 30]);
    expect(w.events(KEY, IP, 443, 'tcp').map((e) => e.attribution)).toEqual(['socket', 'none', 'socket']);
    expect(w.size()).toBe(1);
    expect(w.stats().starts).toBe(3);
    expect(w.pairs()[0]!.version).not.toBe(version); // changed and changed back: caches must look again
    // without a journal nothing is recorded
    w.add(KEY, IP, 443, 'tcp', 50);
    w.rollbackTo(0);
    expect(w.starts(KEY, IP, 443, 'tcp')).toEqual([20, 30, 50]);
  });

  it('nested marks roll back only what came after them', () => {
    const w = new HistoryWindow(60_000, 100);
    const outer = w.beginJournal();
    w.add(KEY, IP, 443, 'tcp', 1);
    const inner = w.beginJournal();
    w.add(KEY, IP, 443, 'tcp', 2);
    w.rollbackTo(inner);
    expect(w.starts(KEY, IP, 443, 'tcp')).toEqual([1]);
    w.rollbackTo(outer);
    expect(w.size()).toBe(0);
  });
});
