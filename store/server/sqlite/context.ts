// What the parts of the SQLite server store share: the connection, its write transaction and read wrappers, the
// caches (host numbers, destinations, triples, modifiers) and the fleet's size and policy.
import type Database from 'better-sqlite3';
import { mapSqliteError } from '../../sqlite/errors.js';
import type { PrevalenceRule } from '../contract.js';
import { modifierFor } from '../prevalence.js';

export const MAX_CACHE = 200_000;

export interface DestState {
  id: number;
  hosts: number;
  modifier: number;
}

export type Prepare = <R = unknown>(sql: string) => Database.Statement<unknown[], R>;

export class SqliteContext {
  readonly prepare: Prepare;
  private readonly runTx: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly activeHostsStmt: Database.Statement<unknown[], { n: number }>;
  private activeHosts: number | null = null;
  /** Destinations by `ip|port|transport`: id, host count and applied modifier (what the table holds). */
  readonly dests = new Map<string, DestState>();
  /** `dest|agent|process` → last_seen written, so a known triple costs no statement. */
  readonly triples = new Map<string, number>();
  /** Modifiers by host count and fleet size (they repeat): computed once each. */
  readonly modifiers = new Map<number, number>();
  readonly hostNos = new Map<string, number>();
  /** dest_id cursor of the re-scoring pass after the fleet changed size; null when none is due. */
  fullPass: number | null = null;
  /** Whether that pass also recounts hosts per destination (after revocation or retention). */
  recount = false;
  /** Destinations ingest changed in the group being committed, with the modifier their findings had before. */
  readonly touched = new Map<DestState, number>();

  constructor(
    readonly db: Database.Database,
    readonly path: string,
    public rules: readonly PrevalenceRule[],
  ) {
    this.runTx = db.transaction((fn: () => unknown) => fn());
    this.prepare = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
    this.activeHostsStmt = this.prepare<{ n: number }>('SELECT count(*) AS n FROM hosts WHERE revoked = 0');
  }

  tx<T>(fn: () => T): T {
    try {
      return this.runTx.immediate(fn) as T;
    } catch (err) {
      this.forgetCaches();
      throw mapSqliteError(err, 'write', this.path);
    }
  }

  /** The caches may hold what a rolled-back transaction wrote. */
  forgetCaches(): void {
    this.dests.clear();
    this.triples.clear();
    this.hostNos.clear();
    this.activeHosts = null;
  }

  read<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw mapSqliteError(err, what, this.path);
    }
  }

  /** A host joined or left: every modifier may be stale. `recount`: host counts per destination are too. */
  fleetChanged(recount: boolean): void {
    this.activeHosts = null;
    this.fullPass = 0;
    if (recount) {
      this.recount = true;
      this.dests.clear();
    }
  }

  fleetSize(): number {
    if (this.activeHosts === null) this.activeHosts = this.read('counting hosts', () => (this.activeHostsStmt.get() as { n: number }).n);
    return this.activeHosts;
  }

  /** The modifier the rules give `hosts` of `size` hosts. */
  modifier(hosts: number, size: number): number {
    const key = hosts * 1_000_003 + size;
    let m = this.modifiers.get(key);
    if (m === undefined) {
      m = modifierFor(this.rules, hosts, size);
      if (this.modifiers.size >= MAX_CACHE) this.modifiers.clear();
      this.modifiers.set(key, m);
    }
    return m;
  }
}
