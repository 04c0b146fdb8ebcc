// The server store on SQLite (better-sqlite3, WAL). Synchronous underneath, async at the ServerStore
// interface so that a PostgreSQL implementation can take its place. The parts are in store/server/sqlite/, by what
// they hold (hosts, group commit, ingest, seq runs, fleet, findings, triage, allow rules, audit, retention),
// sharing one SqliteContext (the connection, its transactions, the caches); this file puts them together.
import type Database from 'better-sqlite3';
import type { PrevalenceRule, ServerStore } from './contract.js';
import { openServerDb, type OpenServerDbOptions } from './db.js';
import { ThreadedServerStore } from './sqlite-thread.js';
import { workerEntry } from '../../core/worker-entry.js';
import { singleBinaryPath } from '../../core/native.js';
import { SqliteContext } from './sqlite/context.js';
import { auditPart } from './sqlite/audit.js';
import { hostsPart } from './sqlite/hosts.js';
import { fleetPart } from './sqlite/fleet.js';
import { seqRuns } from './sqlite/seqs.js';
import { ingestPart } from './sqlite/ingest.js';
import { groupCommit } from './sqlite/group-commit.js';
import { findingsPart } from './sqlite/findings.js';
import { triagePart } from './sqlite/triage.js';
import { allowRulesPart } from './sqlite/allow-rules.js';
import { prunePart } from './sqlite/prune.js';

export interface SqliteServerStoreOptions extends OpenServerDbOptions {
  /** Fleet policy to apply from the start (default none until setPrevalenceRules). */
  prevalence?: readonly PrevalenceRule[];
  /**
   * Run the store on a thread of its own (store/server/sqlite-thread.ts): what the server does, so that statements,
   * commits and checkpoints never hold up its sockets. Where no worker can start (inside the single binary, or a
   * bundle without server-store-worker.mjs) it runs on the caller's thread, and `warn` says so.
   */
  thread?: boolean;
  warn?: (message: string) => void;
  /** Called after each group commit with what it held (on the store's own thread only: tests, diagnostics). */
  onGroupCommit?: (info: { batches: number; findings: number }) => void;
}

/** The ServerStore of the parts, on an open, migrated database. */
function sqliteServerStore(
  db: Database.Database,
  path: string,
  rules: readonly PrevalenceRule[],
  onGroupCommit?: (info: { batches: number; findings: number }) => void,
): ServerStore {
  const c = new SqliteContext(db, path, rules);
  const audit = auditPart(c);
  const hosts = hostsPart(c, audit.writeAudit);
  const fleet = fleetPart(c);
  const ingestOne = ingestPart(c, fleet, seqRuns(c));
  const group = groupCommit(c, { hostNoOf: hosts.hostNoOf, ingestOne, flushTouched: fleet.flushTouched }, onGroupCommit);
  const findings = findingsPart(c);
  const triage = triagePart(c, findings, audit.writeAudit);
  const allow = allowRulesPart(c, audit.writeAudit);
  const retention = prunePart(c);

  return {
    kind: 'sqlite',

    getSetting: hosts.getSetting,
    setSetting: hosts.setSetting,
    findHost: hosts.findHost,
    findHostByTokenHash: hosts.findHostByTokenHash,
    enrollHost: hosts.enrollHost,
    recordConnect: hosts.recordConnect,
    recordDisconnect: hosts.recordDisconnect,
    touchHosts: hosts.touchHosts,
    revokeHost: hosts.revokeHost,
    listHosts: hosts.listHosts,
    activeHostCount: hosts.activeHostCount,
    markAllOffline: hosts.markAllOffline,

    ingestBatch: group.ingestBatch,
    refreshFleet: fleet.refreshFleet,
    setPrevalenceRules: fleet.setPrevalenceRules,

    listFindings: findings.listFindings,
    getFinding: findings.getFinding,
    updateTriage: triage.updateTriage,

    listDestinations: fleet.listDestinations,

    addAllowRule: allow.addAllowRule,
    deleteAllowRule: allow.deleteAllowRule,
    listAllowRules: allow.listAllowRules,
    allowRulesFor: allow.allowRulesFor,

    audit: audit.audit,
    listAudit: audit.listAudit,

    prune: retention.prune,
    async close(): Promise<void> {
      group.commitGroup();
      if (db.open) db.close();
    },
  };
}

/** Opens the server store at `path` (created when absent). Errors are SOCKHUNT_E_DB_*; the file is left as it was. */
export function openSqliteServerStore(path: string, opts: SqliteServerStoreOptions = {}): ServerStore {
  // Checks, pragmas and migrations happen here, on the caller's thread, so that their errors are thrown here.
  const db = openServerDb(path, opts);
  // Inside the single binary no module is a file a worker could load: the store stays on this thread.
  if (opts.thread && singleBinaryPath() === null) {
    const entry = workerEntry(import.meta.url, './sqlite-worker.ts', 'server-store-worker.mjs');
    if (entry) {
      const file = db.name;
      db.close();
      return new ThreadedServerStore(entry, { path: file, busyTimeoutMs: opts.busyTimeoutMs, prevalence: opts.prevalence });
    }
    opts.warn?.('the database runs on the main thread: server-store-worker.mjs is not next to the bundle');
  }
  return sqliteServerStore(db, db.name, opts.prevalence ?? [], opts.onGroupCommit);
}
