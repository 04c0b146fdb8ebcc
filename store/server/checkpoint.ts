// Checkpoints of the server database on a connection and a thread of their own, so that copying the WAL into the
// database — and the two fsyncs each checkpoint makes (of the WAL before, of the database after) — never holds up
// the thread that commits ingest: with synchronous = NORMAL those fsyncs are the only ones, and on the commit
// path they stalled it for about a sixth of its time at peak. The store thread starts this one
// (store/server/sqlite-worker.ts, role 'checkpoint') and opens its own connection with checkpoints: 'elsewhere'.
//
// Every CHECKPOINT_EVERY_MS, when the WAL was written to, a PASSIVE checkpoint copies what it can (it never waits
// for the writer, which goes on committing). A pass the writer overtook is followed at once by another that copies
// only what was added since, so that one ends between two commits and the next commit starts the WAL from its
// beginning again. Should this thread fall behind or stop, the store's own commits checkpoint past a bound.
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';

export const CHECKPOINT_EVERY_MS = 1000;
const CATCH_UP_PASSES = 4;

export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

export interface Checkpointer {
  /** One round now (tests); the last pass's result, or null when there was nothing to do. */
  run(): CheckpointResult | null;
  stop(): void;
}

export function startCheckpointer(path: string, busyTimeoutMs = 5000, everyMs = CHECKPOINT_EVERY_MS): Checkpointer {
  const db = new Database(path, { timeout: busyTimeoutMs });
  db.pragma('synchronous = NORMAL');
  let lastWrite = -1;
  const run = (): CheckpointResult | null => {
    let written: number;
    try {
      written = statSync(`${path}-wal`).mtimeMs;
    } catch {
      return null;
    }
    if (written === lastWrite) return null;
    let r: CheckpointResult | null = null;
    for (let pass = 0; pass < CATCH_UP_PASSES; pass++) {
      try {
        r = (db.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[])[0] ?? null;
      } catch {
        // busy, or I/O: the next round tries again (and the store's commits checkpoint past the bound)
        return r;
      }
      if (!r || r.busy !== 0 || r.checkpointed >= r.log) break;
    }
    // Only a WAL copied whole counts as done: after a partial or busy pass the next round tries again even if
    // nothing more is written (else the WAL would stay unabsorbed until the next write).
    if (r && r.busy === 0 && r.checkpointed >= r.log) lastWrite = written;
    return r;
  };
  const timer = setInterval(run, everyMs);
  return {
    run,
    stop() {
      clearInterval(timer);
      if (db.open) db.close();
    },
  };
}
