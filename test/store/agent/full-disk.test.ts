// A full disk must surface as SOCKHUNT_E_DB_WRITE (callers keep their data and retry), must not lose
// anything already committed, and the same handle must work again once there is space.
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import type { ConnectionEvent } from '../../../agent/detect/types.js';
import { SockhuntError } from '../../../core/errors.js';
import { openAgentStore, type AgentStore } from '../../../store/agent/index.js';
import { row } from '../../support/rows.js';
import { tempDirEach } from '../../support/tmp.js';
import { fillUp, mountTmpfs, unmountAll } from '../../support/tmpfs.js';

function events(from: number, n: number): ConnectionEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    ts: 1_000_000 + from + i,
    processKey: `/usr/bin/python3 /opt/some/fairly/long/script/path/number-${(from + i) % 40}.py`,
    row: row({ inode: 100_000 + from + i, dstIp: `198.51.${(from + i) % 200}.${(from + i) % 250}`, dstPort: 1024 + ((from + i) % 5000) }),
    attribution: 'socket',
  }));
}

function writeError(fn: () => void): SockhuntError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SockhuntError) return err;
    throw err;
  }
  throw new Error('expected the write to fail');
}

function sampleWrite(store: AgentStore, from: number, n: number): void {
  store.transaction(() => {
    store.history.recordStarts(events(from, n), 1_000_000 + from);
    store.baseline.learn({
      ts: 1_000_000 + from,
      intervalMs: 1_000,
      entries: events(from, n).map((e) => ({ row: e.row, processKey: e.processKey, isNew: true })),
    });
  });
}

const tmp = tempDirEach();

describe('full database (PRAGMA max_page_count)', () => {
  it('throws SOCKHUNT_E_DB_WRITE, keeps what was committed, and works again with room', () => {
    const file = path.join(tmp.dir, 'agent.db');
    const store = openAgentStore(file, { now: 1_000_000 });
    sampleWrite(store, 0, 50);
    const committed = store.history.count();
    const pages = store.db.sqlite.pragma('page_count', { simple: true }) as number;
    store.db.sqlite.pragma(`max_page_count = ${pages + 2}`);

    const err = writeError(() => sampleWrite(store, 50, 3000));
    expect(err.code).toBe('SOCKHUNT_E_DB_WRITE');
    expect((err.cause as { code?: string }).code).toBe('SQLITE_FULL');
    expect(store.history.count()).toBe(committed);
    // Memory views follow commits only: the failed sample left no trace there either.
    expect(store.history.view().pairs()).toHaveLength(50);
    expect(store.baseline.summary().destinations.endpoint).toBe(50);
    expect(store.baseline.view().processCount()).toBe(40);

    store.db.sqlite.pragma('max_page_count = 1073741823');
    sampleWrite(store, 50, 3000);
    expect(store.history.count()).toBe(committed + 3000);
    store.close();

    const again = openAgentStore(file, { now: 1_000_000 });
    expect(again.history.count()).toBe(committed + 3000);
    again.close();
  });
});

afterAll(unmountAll);

describe('full file system (a tiny tmpfs)', () => {
  it.runIf(process.platform === 'linux' && process.getuid?.() === 0)(
    'throws SOCKHUNT_E_DB_WRITE, loses nothing committed, and the same handle writes again once space is freed',
    (ctx) => {
      const tmpfs = mountTmpfs(path.join(tmp.dir, 'mnt'), '8m');
      if (!tmpfs) {
        ctx.skip('cannot mount a tmpfs here');
        return;
      }
      const mnt = tmpfs.dir;
      const open: AgentStore[] = [];
      try {
        const file = path.join(mnt, 'state', 'agent.db');
        const store = openAgentStore(file, { now: 1_000_000 });
        open.push(store);
        sampleWrite(store, 0, 200);
        const committed = store.history.count();

        const filler = fillUp(mnt);

        const err = writeError(() => sampleWrite(store, 200, 2000));
        expect(err.code).toBe('SOCKHUNT_E_DB_WRITE');
        expect((err.cause as { code?: string }).code).toMatch(/^SQLITE_(FULL|IOERR)/);
        expect(store.history.count()).toBe(committed);

        fs.rmSync(filler);
        sampleWrite(store, 200, 2000);
        expect(store.history.count()).toBe(committed + 2000);
        store.close();

        const again = openAgentStore(file, { now: 1_000_000 });
        open.push(again);
        expect(again.history.count()).toBe(committed + 2000);
        expect(again.baseline.view().processCount()).toBe(40);
        again.close();
      } finally {
        for (const s of open) s.close();
        tmpfs.unmount();
      }
    },
  );
});
