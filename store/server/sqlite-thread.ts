// The SQLite server store on a thread of its own: store/server/sqlite-worker.ts holds the connection and the
// store (statements, group commits; it starts a further thread for checkpoints), and this proxy forwards every
// ServerStore call to it as a message. The main thread is then left with the sockets: a commit never stalls its
// event loop.
//
// A batch's documents travel without a copy when they can (PreparedBatch.owned: their buffer is transferred).
// If the thread dies, the calls waiting on it fail with SOCKHUNT_E_DB_WRITE (ingest answers
// SOCKHUNT_E_PROTO_STORE: nothing of those batches was acked, the agents resend them) and a new thread opens
// the database for the next call; after more than MAX_RESTARTS deaths within RESTART_WINDOW_MS every call fails.
import { Worker } from 'node:worker_threads';
import { SockhuntError, type ErrorCode } from '../../core/errors.js';
import type { PreparedBatch } from './batch.js';
import type { IngestResult, PrevalenceRule, ServerStore } from './contract.js';

const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 10 * 60_000;

/** What the worker needs to open the store (plain data: it crosses to the thread). */
export interface StoreThreadConfig {
  path: string;
  busyTimeoutMs?: number;
  prevalence?: readonly PrevalenceRule[];
  /** The worker's own entry (code to eval, or a file URL), for the checkpointing thread it starts. */
  entry?: { eval: string } | { url: string };
  /** 'checkpoint': the thread checkpoints the database (store/server/checkpoint.ts) instead of serving the store. */
  role?: 'store' | 'checkpoint';
}

/** An error as it crosses from the thread. */
export interface WireFailure {
  name: string;
  message: string;
  code?: string;
}

export type StoreRequest = { id: number; method: keyof ServerStore; args: unknown[] };
export type StoreReply = { id: number; value?: unknown; error?: WireFailure; ready?: true; fatal?: WireFailure };

export function toWire(err: unknown): WireFailure {
  if (err instanceof SockhuntError) return { name: err.name, message: err.message, code: err.code };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

function fromWire(f: WireFailure): Error {
  if (f.code !== undefined) return new SockhuntError(f.code as ErrorCode, f.message);
  const err = new Error(f.message);
  err.name = f.name;
  return err;
}

interface Call {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

type Method = Exclude<keyof ServerStore, 'kind'>;

export class ThreadedServerStore implements ServerStore {
  readonly kind = 'sqlite' as const;
  private worker: Worker | null = null;
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  /** When the thread stopped lately (within RESTART_WINDOW_MS): the budget for starting another. */
  private readonly restarts: number[] = [];
  private closing = false;
  private failed: Error | null = null;

  constructor(
    private readonly entry: string | URL,
    private readonly config: StoreThreadConfig,
  ) {
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    const entry = typeof this.entry === 'string' ? { eval: this.entry } : { url: this.entry.href };
    const worker = new Worker(this.entry, { eval: typeof this.entry === 'string', workerData: { ...this.config, entry } satisfies StoreThreadConfig });
    // Referenced only while a call waits on it: a process that forgets to close the store still exits, and
    // nothing is lost (what was acked is committed).
    worker.unref();
    worker.on('message', (msg: StoreReply) => {
      if (msg.id === 0) {
        if (msg.fatal) this.stop(worker, fromWire(msg.fatal), false);
        return;
      }
      const call = this.calls.get(msg.id);
      if (!call) return;
      this.calls.delete(msg.id);
      if (this.calls.size === 0 && !this.closing) worker.unref();
      if (msg.error) call.reject(fromWire(msg.error));
      else call.resolve(msg.value);
    });
    worker.on('error', (err) => this.stop(worker, err, true));
    worker.on('exit', (code) => this.stop(worker, new Error(`exit ${code}`), true));
    return worker;
  }

  /** The thread is gone: its calls fail; a later call starts another unless it failed to open, or too often. */
  private stop(worker: Worker, why: Error, restart: boolean): void {
    if (this.worker !== worker) return;
    this.worker = null;
    void worker.terminate();
    const err = new SockhuntError('SOCKHUNT_E_DB_WRITE', `${this.config.path}: the database thread stopped (${why.message}); retry`, { cause: why });
    for (const call of this.calls.values()) call.reject(this.closing ? why : err);
    this.calls.clear();
    if (!restart || this.closing) this.failed = why instanceof SockhuntError ? why : err;
    else {
      // Stops spread over days (a full disk now and then) are each recovered from; a thread that keeps dying is not.
      const now = Date.now();
      while (this.restarts.length > 0 && now - this.restarts[0]! > RESTART_WINDOW_MS) this.restarts.shift();
      this.restarts.push(now);
      if (this.restarts.length > MAX_RESTARTS) this.failed = new SockhuntError('SOCKHUNT_E_DB_WRITE', `${this.config.path}: the database thread keeps stopping (${why.message})`);
    }
  }

  private call<T>(method: Method, args: unknown[], transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.closing && method !== 'close') return Promise.reject(new SockhuntError('SOCKHUNT_E_DB_WRITE', `${this.config.path}: the store is closed`));
    if (this.failed) return Promise.reject(this.failed);
    this.worker ??= this.spawn();
    const id = this.nextId++;
    if (this.calls.size === 0) this.worker.ref();
    const worker = this.worker;
    return new Promise<T>((resolve, reject) => {
      try {
        worker.postMessage({ id, method, args } satisfies StoreRequest, transfer);
      } catch (err) {
        // (a batch whose buffer was already moved to the thread, or something that does not clone)
        if (this.calls.size === 0) worker.unref();
        reject(err);
        return;
      }
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  private rpc<K extends Method>(method: K): ServerStore[K] {
    return ((...args: unknown[]) => this.call(method, args)) as ServerStore[K];
  }

  getSetting = this.rpc('getSetting');
  setSetting = this.rpc('setSetting');
  findHost = this.rpc('findHost');
  findHostByTokenHash = this.rpc('findHostByTokenHash');
  enrollHost = this.rpc('enrollHost');
  recordConnect = this.rpc('recordConnect');
  recordDisconnect = this.rpc('recordDisconnect');
  touchHosts = this.rpc('touchHosts');
  revokeHost = this.rpc('revokeHost');
  listHosts = this.rpc('listHosts');
  activeHostCount = this.rpc('activeHostCount');
  markAllOffline = this.rpc('markAllOffline');
  refreshFleet = this.rpc('refreshFleet');
  /** Kept in the config too: a thread started after this one died applies them from the start. */
  setPrevalenceRules: ServerStore['setPrevalenceRules'] = (rules) => {
    this.config.prevalence = rules.map((r) => ({ ...r }));
    return this.call('setPrevalenceRules', [rules]);
  };
  listFindings = this.rpc('listFindings');
  getFinding = this.rpc('getFinding');
  updateTriage = this.rpc('updateTriage');
  listDestinations = this.rpc('listDestinations');
  addAllowRule = this.rpc('addAllowRule');
  deleteAllowRule = this.rpc('deleteAllowRule');
  listAllowRules = this.rpc('listAllowRules');
  allowRulesFor = this.rpc('allowRulesFor');
  audit = this.rpc('audit');
  listAudit = this.rpc('listAudit');
  prune = this.rpc('prune');

  ingestBatch(agentId: string, batch: PreparedBatch, now: number): Promise<IngestResult> {
    // The documents' buffer moves to the thread when it is the batch's alone; the caller reads only seqs after.
    return this.call('ingestBatch', [agentId, batch, now], batch.owned ? [batch.docs.buffer as ArrayBuffer] : []);
  }

  /** Commits what is waiting, closes the database and ends the thread. */
  async close(): Promise<void> {
    if (this.closing) return;
    const worker = this.worker;
    if (!worker || this.failed) {
      this.closing = true;
      return;
    }
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const done = this.call<void>('close', []);
    this.closing = true;
    await done;
    await exited;
  }
}
