import { describe, expect, it } from 'vitest';
import type { ConnectionEvent } from '../../../agent/detect/types.js';
import { openAgentDb } from '../../../store/agent/db.js';
import { HistoryStore, connectionIdOf } from '../../../store/agent/history.js';
import { row, type RowSpec } from '../../support/rows.js';
import { agentDbEach } from '../../support/stores.js';

const KEY = '/usr/bin/python3.11 /tmp/.x/beacon.py';
const MIN = 60_000;

const fx = agentDbEach();

function start(ts: number, spec: RowSpec = {}, processKey: string | null = KEY): ConnectionEvent {
  return { ts, processKey, row: row({ inode: ts, ...spec }), attribution: 'socket' };
}

describe('connection history', () => {
  it('keeps starts per process and destination in the window, oldest first', () => {
    const history = new HistoryStore(fx.db, { windowMs: 10 * MIN }, 0);
    history.recordStarts([start(1 * MIN), start(2 * MIN, { dstIp: '2001:DB8::1', dstPort: 8443 })], 2 * MIN);
    history.recordStarts([start(3 * MIN), start(3 * MIN + 1, {}, null)], 3 * MIN);
    const view = history.view();
    expect(view.starts(KEY, '203.0.113.10', 443, 'tcp')).toEqual([1 * MIN, 3 * MIN]);
    expect(view.starts(KEY, '2001:db8::1', 8443, 'tcp')).toEqual([2 * MIN]);
    expect(view.starts(KEY, '2001:0db8:0::1', 8443, 'tcp')).toEqual([2 * MIN]);
    expect(view.starts(KEY, '203.0.113.10', 443, 'udp')).toEqual([]);
    expect(view.pairs().map(({ processKey, ip, port, transport }) => ({ processKey, ip, port, transport }))).toEqual(
      expect.arrayContaining([
        { processKey: KEY, ip: '203.0.113.10', port: 443, transport: 'tcp' },
        { processKey: KEY, ip: '2001:db8::1', port: 8443, transport: 'tcp' },
      ]),
    );
    expect(view.pairs()).toHaveLength(2);
    // Unattributed starts are recorded in the database, not in the per-process view.
    expect(history.count()).toBe(4);
    expect(history.query({ limit: 10 }).find((r) => r.processKey === null)?.pid).toBe(1234);

    history.recordStarts([], 12 * MIN + 1);
    expect(view.starts(KEY, '203.0.113.10', 443, 'tcp')).toEqual([3 * MIN]);
    expect(view.pairs()).toHaveLength(1);
  });

  it('records ends by the row id recordStarts gave each start', () => {
    const history = new HistoryStore(fx.db, { endFlushEveryMs: 0 }, 0);
    const withInode = start(1_000, { inode: 77 });
    const timeWait = start(1_000, { inode: 0, srcPort: 50123 });
    expect(connectionIdOf(timeWait.row)).toBe('t::tcp:192.0.2.2:50123>203.0.113.10:443');
    const first = history.recordStarts([withInode, timeWait], 1_000);
    expect(first).toBeGreaterThan(0);
    expect(history.recordStarts([], 1_500)).toBe(0);
    // Ids follow in event order, and the next batch continues after them.
    const third = history.recordStarts([start(2_000, { inode: 78 })], 2_000);
    expect(third).toBe(first + 2);
    expect(history.recordEnds([{ id: first, ts: 5_000 }, { id: first + 1, ts: 6_000 }, { id: 0, ts: 6_000 }])).toBe(2);
    // An ended row stays ended.
    expect(history.recordEnds([{ id: first, ts: 7_000 }])).toBe(0);
    // the partial index by connection identity is gone (schema version 3)
    expect(fx.db.sqlite.prepare("SELECT name FROM sqlite_schema WHERE name = 'connection_history_open'").get()).toBeUndefined();
    const byId = new Map(history.query().map((r) => [r.id, r]));
    expect(byId.get(first)).toMatchObject({ startedAt: 1_000, endedAt: 5_000 });
    expect(byId.get(first + 1)).toMatchObject({ startedAt: 1_000, endedAt: 6_000 });
    expect(byId.get(third)?.endedAt).toBeNull();
  });

  it('marks many ends of one sample in batches, and ends of mixed times', () => {
    const history = new HistoryStore(fx.db, { endFlushEveryMs: 0 }, 0);
    const first = history.recordStarts(Array.from({ length: 150 }, (_, i) => start(1_000 + i, { inode: 5_000 + i })), 2_000);
    expect(history.count()).toBe(150);
    const ends = Array.from({ length: 100 }, (_, i) => ({ id: first + i, ts: i < 70 ? 9_000 : 9_500 + (i % 3) }));
    expect(history.recordEnds(ends)).toBe(100);
    const rows = history.query({ limit: 1000 });
    expect(rows.filter((r) => r.endedAt === 9_000)).toHaveLength(70);
    expect(rows.filter((r) => r.endedAt !== null && r.endedAt >= 9_500)).toHaveLength(30);
    expect(rows.filter((r) => r.endedAt === null)).toHaveLength(50);
    // Every start is in the window, in order.
    expect(history.view().starts(KEY, '203.0.113.10', 443, 'tcp')).toEqual(Array.from({ length: 150 }, (_, i) => 1_000 + i));
  });

  it('survives a restart: the window (starts and their attribution) is reloaded from the database', () => {
    const history = new HistoryStore(fx.db, { windowMs: 10 * MIN }, 0);
    const inferred: ConnectionEvent = { ...start(9 * MIN), attribution: 'inferred' };
    history.recordStarts([start(1 * MIN), start(5 * MIN), inferred], 9 * MIN);
    // The window keeps the newest start's owner (process, user, host), not the row.
    const last = history.view().lastRow(KEY, '203.0.113.10', 443, 'tcp');
    expect(last?.process).toBe(inferred.row.process);
    expect(last?.user).toBe(inferred.row.user);
    expect(last).toMatchObject({ destination: { ip: '203.0.113.10', port: 443 }, network: { transport: 'tcp', direction: 'egress' } });
    fx.db.close();
    fx.db = openAgentDb(fx.file);
    const reopened = new HistoryStore(fx.db, { windowMs: 10 * MIN }, 12 * MIN);
    expect(reopened.view().starts(KEY, '203.0.113.10', 443, 'tcp')).toEqual([5 * MIN, 9 * MIN]);
    expect(reopened.view().events(KEY, '203.0.113.10', 443, 'tcp')).toEqual([
      { ts: 5 * MIN, attribution: 'socket' },
      { ts: 9 * MIN, attribution: 'inferred' },
    ]);
    // Rows are not persisted: the last row comes back once the pair is seen again.
    expect(reopened.view().lastRow(KEY, '203.0.113.10', 443, 'tcp')).toBeNull();
  });

  it('keeps the window unchanged when the transaction rolls back', () => {
    const history = new HistoryStore(fx.db, {}, 0);
    expect(() =>
      fx.db.transaction(() => {
        history.recordStarts([start(1_000)], 1_000);
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(history.view().pairs()).toEqual([]);
    expect(history.count()).toBe(0);
  });

  it('places a late (estimated) start in order and caps starts per pair', () => {
    const history = new HistoryStore(fx.db, { maxStartsPerPair: 3 }, 0);
    const late = { ...start(20, { pid: 20 }), attribution: 'none' as const };
    history.recordStarts([start(10, { pid: 10 }), start(30, { pid: 30 }), late, start(5, { pid: 5 })], 100);
    expect(history.view().starts(KEY, '203.0.113.10', 443, 'tcp')).toEqual([10, 20, 30]);
    expect(history.view().events(KEY, '203.0.113.10', 443, 'tcp').map((e) => e.attribution)).toEqual(['socket', 'none', 'socket']);
    // The last row is the newest start's, not the late one's.
    expect(history.view().lastRow(KEY, '203.0.113.10', 443, 'tcp')?.process.pid).toBe(30);
  });
});

describe('buffered ends', () => {
  it('writes ends every endFlushEveryMs of sample time, on query and at close', () => {
    const history = new HistoryStore(fx.db, { endFlushEveryMs: 30_000 }, 0);
    const first = history.recordStarts(Array.from({ length: 4 }, (_, i) => start(1_000 + i, { inode: 900 + i })), 1_000);
    const open = (): number => fx.db.sqlite.prepare('SELECT count(*) FROM connection_history WHERE ended_at IS NULL').pluck().get() as number;
    // The first call writes (nothing was written yet), then the buffer waits for 30 s of sample time.
    expect(history.recordEnds([{ id: first, ts: 2_000 }], 2_000)).toBe(1);
    expect(history.recordEnds([{ id: first + 1, ts: 3_000 }], 3_000)).toBe(0);
    expect(history.pendingEndCount()).toBe(1);
    expect(open()).toBe(3);
    expect(history.recordEnds([{ id: first + 2, ts: 33_000 }], 33_000)).toBe(2);
    expect(history.pendingEndCount()).toBe(0);
    // A rolled-back write keeps the ends buffered.
    history.recordEnds([{ id: first + 3, ts: 34_000 }], 34_000);
    expect(() =>
      fx.db.transaction(() => {
        history.flushEnds(35_000);
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(history.pendingEndCount()).toBe(1);
    expect(open()).toBe(1);
    // query() sees every end.
    expect(history.query().filter((r) => r.endedAt === null)).toHaveLength(0);
    history.recordEnds([{ id: first, ts: 99_000 }], 36_000);
    fx.db.close();
    fx.db = openAgentDb(fx.file);
    // close() wrote the buffer; an ended row keeps its first end.
    expect((fx.db.sqlite.prepare('SELECT ended_at FROM connection_history WHERE id = ?').pluck().get(first) as number)).toBe(2_000);
  });
});

describe('retention', () => {
  it('deletes rows older than maxAge, in batches', () => {
    const history = new HistoryStore(fx.db, { maxAgeMs: 60 * MIN, pruneBatch: 40, pruneEveryMs: Infinity }, 0);
    history.recordStarts(Array.from({ length: 100 }, (_, i) => start(i * MIN)), 0);
    expect(history.count()).toBe(100);
    // At 130 min, starts before 70 min (70 rows) are past retention: two batches of 40 (30 in the second).
    expect(history.prune(130 * MIN)).toBe(40);
    expect(history.count()).toBe(60);
    expect(history.prune(130 * MIN)).toBe(30);
    expect(history.prune(130 * MIN)).toBe(0);
    expect(Math.min(...history.query({ limit: 1000 }).map((r) => r.startedAt))).toBe(70 * MIN);
  });

  it('keeps at most maxRows, oldest first, pruning as samples arrive', () => {
    const history = new HistoryStore(fx.db, { maxRows: 50, pruneBatch: 1000, maxAgeMs: Infinity }, 0);
    for (let sample = 0; sample < 10; sample++) {
      history.recordStarts(Array.from({ length: 20 }, (_, i) => start(sample * 1_000 + i)), sample * 1_000);
    }
    // Retention runs in the same transaction as each sample's inserts.
    expect(history.count()).toBe(50);
    const kept = history.query({ limit: 100 }).map((r) => r.startedAt);
    expect(Math.min(...kept)).toBe(7_010);
    expect(Math.max(...kept)).toBe(9_019);
  });
});
