// Runs processFrame (JSON parse, zod, document serialisation: the CPU-heavy part of ingest) in worker
// threads so that the main thread is left with sockets and database writes. Falls back to running inline
// when workers cannot start (e.g. a single-file executable) or keep dying.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { singleBinaryPath } from '../core/native.js';
import { processFrame, type FrameResult } from './frames.js';
import type { Log } from './log.js';
import { workerEntry } from '../core/worker-entry.js';

export interface FrameValidator {
  readonly workers: number;
  process(data: Buffer): Promise<FrameResult>;
  close(): Promise<void>;
}

export const inlineValidator: FrameValidator = {
  workers: 0,
  process: async (data) => processFrame(data),
  close: async () => undefined,
};

interface Job {
  data: Buffer;
  resolve(result: FrameResult): void;
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
}

const MAX_RESTARTS = 5;

/** Default worker count: one per core beyond the main thread's, at least one, at most four. */
export function defaultValidatorWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export function workerValidator(count: number, log: Log): FrameValidator {
  // Inside the single binary this module is no file a worker could load (import.meta.url is the executable).
  if (count <= 0 || singleBinaryPath() !== null) return inlineValidator;
  const entry = workerEntry(import.meta.url, './validator-worker.ts', 'validator-worker.mjs');
  if (!entry) {
    log('warn', 'frame validation runs inline: validator-worker.mjs is not next to the bundle');
    return inlineValidator;
  }
  const slots: Slot[] = [];
  let nextId = 1;
  let restarts = 0;
  let closed = false;
  let inline = false;

  const spawn = (): Slot | null => {
    let worker: Worker;
    try {
      worker = new Worker(entry, { eval: typeof entry === 'string' });
    } catch (err) {
      log('warn', 'frame validation runs inline: cannot start a worker', { error: (err as Error).message });
      return null;
    }
    worker.unref();
    const slot: Slot = { worker, jobs: new Map() };
    worker.on('message', (msg: { id: number; result: FrameResult }) => {
      const job = slot.jobs.get(msg.id);
      if (!job) return;
      slot.jobs.delete(msg.id);
      job.resolve(msg.result);
    });
    const fail = (why: string): void => {
      const i = slots.indexOf(slot);
      if (i < 0) return;
      slots.splice(i, 1);
      // Its frames are processed here instead: nothing an agent sent is lost to a worker's death.
      for (const job of slot.jobs.values()) job.resolve(processFrame(job.data));
      slot.jobs.clear();
      if (closed) return;
      log('warn', 'frame validation worker stopped', { why });
      if (restarts++ < MAX_RESTARTS) {
        const again = spawn();
        if (again) slots.push(again);
      }
      if (slots.length === 0) inline = true;
    };
    worker.on('error', (err) => fail(err.message));
    worker.on('exit', (code) => fail(`exit ${code}`));
    return slot;
  };

  for (let i = 0; i < count; i++) {
    const slot = spawn();
    if (!slot) break;
    slots.push(slot);
  }
  if (slots.length === 0) return inlineValidator;

  return {
    get workers() {
      return slots.length;
    },
    process(data) {
      if (inline || closed || slots.length === 0) return Promise.resolve(processFrame(data));
      let slot = slots[0]!;
      for (const s of slots) if (s.jobs.size < slot.jobs.size) slot = s;
      const id = nextId++;
      return new Promise<FrameResult>((resolve) => {
        slot.jobs.set(id, { data, resolve });
        // A copy of its own: ws may hand out views into a larger pooled buffer.
        const copy = new Uint8Array(data);
        slot.worker.postMessage({ id, data: copy }, [copy.buffer]);
      });
    },
    async close() {
      closed = true;
      const all = slots.splice(0);
      for (const s of all) for (const job of s.jobs.values()) job.resolve(processFrame(job.data));
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}
