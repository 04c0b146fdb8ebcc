// Entry of the database thread (store/server/sqlite-thread.ts starts it): opens the SQLite server store and
// answers ServerStore calls from the main thread, one message each, in arrival order. Batches that arrive
// while a commit runs are committed together next (the store's group commit). It starts a second thread from this
// same entry (role 'checkpoint', store/server/checkpoint.ts) that copies the WAL into the database, so that its
// own commits only append to the WAL and never wait for an fsync.
import { parentPort, Worker, workerData } from 'node:worker_threads';
import type { ServerStore } from './contract.js';
import { startCheckpointer } from './checkpoint.js';
import { openSqliteServerStore } from './sqlite.js';
import { toWire, type StoreReply, type StoreRequest, type StoreThreadConfig } from './sqlite-thread.js';

const port = parentPort;
if (!port) throw new Error('store/server-sqlite-worker runs as a worker thread');
const config = workerData as StoreThreadConfig;
const MAX_CHECKPOINTER_STARTS = 5;

if (config.role === 'checkpoint') {
  const checkpointer = startCheckpointer(config.path, config.busyTimeoutMs);
  port.on('message', (msg: unknown) => {
    if (msg !== 'stop') return;
    checkpointer.stop();
    port.close();
  });
} else {
  serve(port);
}

/** The checkpointing thread, started again (a few times) should it stop; null where none can start. */
function checkpointing(): { stop(): Promise<void> } | null {
  const entry = config.entry;
  if (!entry) return null;
  let current: Worker | null = null;
  let starts = 0;
  let stopping = false;
  const start = (): Worker | null => {
    if (stopping || starts++ >= MAX_CHECKPOINTER_STARTS) return null;
    try {
      const w = new Worker('eval' in entry ? entry.eval : new URL(entry.url), {
        eval: 'eval' in entry,
        workerData: { path: config.path, busyTimeoutMs: config.busyTimeoutMs, role: 'checkpoint' } satisfies StoreThreadConfig,
      });
      w.unref();
      w.on('error', () => undefined);
      w.on('exit', () => {
        if (current === w) current = start();
      });
      return w;
    } catch {
      return null;
    }
  };
  current = start();
  if (!current) return null;
  return {
    async stop() {
      stopping = true;
      const w = current;
      current = null;
      if (!w) return;
      const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
      w.postMessage('stop');
      await exited;
    },
  };
}

function serve(p: NonNullable<typeof parentPort>): void {
  const reply = (msg: StoreReply): void => p.postMessage(msg);
  const checkpoints = checkpointing();
  let store: ServerStore | null = null;
  try {
    // The main thread opened, checked and migrated the file before starting this thread.
    store = openSqliteServerStore(config.path, {
      busyTimeoutMs: config.busyTimeoutMs,
      prevalence: config.prevalence,
      quickCheck: false,
      checkpoints: checkpoints ? 'elsewhere' : 'commit',
    });
    reply({ id: 0, ready: true });
  } catch (err) {
    reply({ id: 0, fatal: toWire(err) });
    void checkpoints?.stop();
  }

  p.on('message', (msg: StoreRequest) => {
    const s = store;
    if (!s) return;
    let pending: Promise<unknown>;
    try {
      pending = Promise.resolve((s[msg.method] as (...args: unknown[]) => unknown).apply(s, msg.args));
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      async (value) => {
        // (the checkpointing thread's connection closes after the store's: the last one out checkpoints)
        if (msg.method === 'close') await checkpoints?.stop();
        reply({ id: msg.id, value });
        if (msg.method === 'close') p.close();
      },
      (err: unknown) => reply({ id: msg.id, error: toWire(err) }),
    );
  });
}
