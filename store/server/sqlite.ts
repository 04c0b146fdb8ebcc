// The server store on SQLite (better-sqlite3, WAL). Synchronous underneath, async at the ServerStore
// interface so that a PostgreSQL implementation can take its place.
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { SockhuntError } from '../../core/errors.js';
import { RISKS, RISK_BANDS, type Risk } from '../../core/risk.js';
import type { FindingDoc } from '../../core/finding.js';
import type { AllowRuleWire, HostFactsWire } from '../../core/protocol.js';
import { decodeBatch, type PreparedBatch, type PreparedFinding } from './batch.js';
import { modifierFor, withModifier } from './prevalence.js';
import type {
  AllowRuleInput,
  AllowRuleRecord,
  AuditInput,
  AuditRecord,
  DestinationSummary,
  FindingFilter,
  FindingRecord,
  FindingSort,
  FindingStatus,
  HostRecord,
  HostSummary,
  IngestResult,
  Page,
  PrevalenceRule,
  PruneResult,
  ServerStore,
  TriagePatch,
} from './contract.js';
import { openServerDb, type OpenServerDbOptions } from './db.js';
import { ThreadedServerStore } from './sqlite-thread.js';
import { workerEntry } from '../../core/worker-entry.js';
import { singleBinaryPath } from '../../core/native.js';
import { mapSqliteError } from '../sqlite/errors.js';

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

interface HostRow {
  host_no: number;
  agent_id: string;
  hostname: string;
  facts: string;
  agent_version: string;
  token_hash: string;
  revoked: number;
  revoked_at: number | null;
  enrolled_at: number;
  last_seen: number;
  online: number;
  outbox_pending: number | null;
  outbox_dropped: number | null;
}

interface FindingRow {
  event_id: string;
  host_no: number;
  /** Joined from hosts. */
  agent_id: string;
  host_name: string;
  hunt_id: string;
  detector: string;
  techniques: string;
  risk_rank: number;
  endpoint_risk: Risk;
  score: number;
  endpoint_score: number;
  modifier: number;
  dest_id: number;
  /** Joined from destinations. */
  dest_hosts: number;
  status: FindingStatus;
  assignee: string | null;
  notes: string | null;
  doc: string;
  first_seen: number;
  last_seen: number;
  count: number;
  seq: number;
  received_at: number;
  updated_at: number;
}

interface AllowRow {
  id: number;
  scope: string;
  process: string;
  destination: string;
  port: number;
  transport: '' | 'tcp' | 'udp';
  comment: string | null;
  finding_id: string | null;
  created_by: string;
  created_at: number;
}

interface AuditRow {
  id: number;
  ts: number;
  who: string;
  action: string;
  target: string | null;
  detail: string;
}

const MAX_CACHE = 200_000;
const MAX_RULES_PER_AGENT = 10_000;
/** A group commit this large is written at once rather than at the end of the event-loop turn. */
const MAX_GROUP_ITEMS = 5_000;
/** A run of seqs is continued by the next ones for this long after it was last continued; then a new run starts. */
const SEQ_RUN_MS = 3_600_000;
/** A batch whose seqs spread wider than this many times its size looks its seqs up one by one. */
const SEQ_SPREAD = 4;
/** A (destination, host, process) row's last_seen is rewritten at most this often. */
const TRIPLE_REFRESH_MS = 3_600_000;

const RiskCursor = z.tuple([z.int(), z.number(), z.int(), z.string()]);
const RecentCursor = z.tuple([z.int(), z.string()]);
/** Findings with their agent id and their destination's host count (for the fleet view). */
const FINDING_SELECT =
  'SELECT f.*, h.agent_id, d.hosts AS dest_hosts FROM findings f JOIN hosts h ON h.host_no = f.host_no JOIN destinations d ON d.dest_id = f.dest_id';

/** The banding of agent/detect/common.ts (RISK_BANDS) as SQL over a score expression. */
function riskRankSql(score: string): string {
  const whens = RISK_BANDS.filter((b) => b.min > 0).map((b) => `WHEN ${score} >= ${b.min} THEN ${RISKS.indexOf(b.risk)}`);
  return `CASE ${whens.join(' ')} ELSE ${RISKS.indexOf('Low')} END`;
}

const ADJUSTED = 'round(min(1.0, max(0.0, endpoint_score + @m)), 3)';
const ENDPOINT_RANK = `CASE endpoint_risk ${RISKS.map((r, i) => `WHEN '${r}' THEN ${i}`).join(' ')} END`;

/** A run of consecutive seqs an agent sent, all stored (store/server/migrations.ts V2). */
interface SeqRun {
  lo: number;
  hi: number;
  seen_at: number;
}

interface DestState {
  id: number;
  hosts: number;
  modifier: number;
}

interface Pending {
  agentId: string;
  batch: PreparedBatch;
  now: number;
  resolve(r: IngestResult): void;
  reject(err: unknown): void;
}

function encodeCursor(value: unknown[]): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

function decodeCursor<T>(text: string, schema: z.ZodType<T>): T {
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    if (parsed.success) return parsed.data;
  } catch {
    // falls through to the error below
  }
  throw new SockhuntError('SOCKHUNT_E_INPUT', 'invalid cursor (pass back the next_cursor of the previous page)');
}

function hostOf(row: HostRow): HostRecord {
  return {
    agentId: row.agent_id,
    hostname: row.hostname,
    facts: JSON.parse(row.facts) as HostFactsWire,
    agentVersion: row.agent_version,
    tokenHash: row.token_hash,
    revoked: row.revoked === 1,
    revokedAt: row.revoked_at,
    enrolledAt: row.enrolled_at,
    lastSeen: row.last_seen,
    online: row.online === 1,
    outboxPending: row.outbox_pending,
    outboxDropped: row.outbox_dropped,
  };
}

function allowOf(row: AllowRow): AllowRuleRecord {
  return {
    id: row.id,
    agentId: row.scope === '*' ? null : row.scope,
    process: row.process,
    destination: row.destination,
    port: row.port === 0 ? null : row.port,
    transport: row.transport === '' ? null : row.transport,
    comment: row.comment,
    findingId: row.finding_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

function auditOf(row: AuditRow): AuditRecord {
  return { id: row.id, ts: row.ts, who: row.who, action: row.action, target: row.target, detail: JSON.parse(row.detail) as Record<string, unknown> };
}

class SqliteServerStore implements ServerStore {
  readonly kind = 'sqlite' as const;
  private readonly runTx: Database.Transaction<(fn: () => unknown) => unknown>;
  private readonly s;
  private activeHosts: number | null = null;
  /** Destinations by `ip|port|transport`: id, host count and applied modifier (what the table holds). */
  private readonly dests = new Map<string, DestState>();
  /** `dest|agent|process` → last_seen written, so a known triple costs no statement. */
  private readonly triples = new Map<string, number>();
  /** Modifiers by host count and fleet size (they repeat): computed once each. */
  private readonly modifiers = new Map<number, number>();
  private readonly hostNos = new Map<string, number>();
  /** dest_id cursor of the re-scoring pass after the fleet changed size; null when none is due. */
  private fullPass: number | null = null;
  /** Whether that pass also recounts hosts per destination (after revocation or retention). */
  private recount = false;
  private group: Pending[] = [];
  private groupItems = 0;
  private readonly touched = new Map<DestState, number>();
  private groupScheduled = false;

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    private rules: readonly PrevalenceRule[],
    private readonly onGroupCommit?: (info: { batches: number; findings: number }) => void,
  ) {
    this.runTx = db.transaction((fn: () => unknown) => fn());
    const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
    this.s = {
      getSetting: p<{ value: string }>('SELECT value FROM settings WHERE key = ?'),
      setSetting: p('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      hostById: p<HostRow>('SELECT * FROM hosts WHERE agent_id = ?'),
      hostByToken: p<HostRow>('SELECT * FROM hosts WHERE token_hash = ?'),
      insertHost: p(
        `INSERT INTO hosts (agent_id, hostname, facts, agent_version, token_hash, enrolled_at, last_seen, online)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1)`,
      ),
      connectHost: p('UPDATE hosts SET hostname = ?, facts = ?, agent_version = ?, last_seen = ?, online = 1 WHERE agent_id = ?'),
      disconnectHost: p('UPDATE hosts SET online = 0, last_seen = max(last_seen, ?) WHERE agent_id = ?'),
      touchHost: p(
        `UPDATE hosts SET last_seen = max(last_seen, ?), outbox_pending = coalesce(?, outbox_pending),
         outbox_dropped = coalesce(?, outbox_dropped) WHERE agent_id = ?`,
      ),
      revokeHost: p('UPDATE hosts SET revoked = 1, revoked_at = ?, online = 0 WHERE agent_id = ? AND revoked = 0'),
      listHosts: p<HostRow & { findings: number }>(
        'SELECT h.*, (SELECT count(*) FROM findings f WHERE f.host_no = h.host_no) AS findings FROM hosts h ORDER BY h.hostname, h.agent_id',
      ),
      hostNo: p<{ host_no: number }>('SELECT host_no FROM hosts WHERE agent_id = ?'),
      activeHosts: p<{ n: number }>('SELECT count(*) AS n FROM hosts WHERE revoked = 0'),
      allOffline: p('UPDATE hosts SET online = 0 WHERE online = 1'),
      // The run holding `lo` (or the last one before it: a run of this batch may continue it), then those starting
      // up to `hi`.
      seqRuns: p<SeqRun>(
        `SELECT * FROM (SELECT lo, hi, seen_at FROM seq_runs WHERE host_no = @h AND lo <= @lo ORDER BY lo DESC LIMIT 1)
         UNION ALL SELECT lo, hi, seen_at FROM seq_runs WHERE host_no = @h AND lo > @lo AND lo <= @hi`,
      ),
      seqRunAt: p<SeqRun>('SELECT lo, hi, seen_at FROM seq_runs WHERE host_no = ? AND lo <= ? ORDER BY lo DESC LIMIT 1'),
      insertSeqRun: p(
        `INSERT INTO seq_runs (host_no, lo, hi, seen_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (host_no, lo) DO UPDATE SET hi = max(hi, excluded.hi), seen_at = max(seen_at, excluded.seen_at)`,
      ),
      extendSeqRun: p('UPDATE seq_runs SET hi = ?, seen_at = ? WHERE host_no = ? AND lo = ?'),
      destByKey: p<{ dest_id: number; hosts: number; modifier: number }>('SELECT dest_id, hosts, modifier FROM destinations WHERE ip = ? AND port = ? AND transport = ?'),
      insertDest: p<{ dest_id: number }>(
        'INSERT INTO destinations (ip, port, transport, hosts, modifier) VALUES (?, ?, ?, ?, ?) ON CONFLICT (ip, port, transport) DO NOTHING RETURNING dest_id',
      ),
      setDest: p('UPDATE destinations SET hosts = ?, modifier = ? WHERE dest_id = ?'),
      pairProcesses: p<{ process: string; last_seen: number }>('SELECT process, last_seen FROM fleet_destinations WHERE dest_id = ? AND host_no = ?'),
      upsertTriple: p(
        `INSERT INTO fleet_destinations (dest_id, host_no, process, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (dest_id, host_no, process) DO UPDATE SET
           first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`,
      ),
      destHostCount: p<{ n: number }>(
        `SELECT count(DISTINCT f.host_no) AS n FROM fleet_destinations f JOIN hosts h ON h.host_no = f.host_no AND h.revoked = 0
         WHERE f.dest_id = ?`,
      ),
      upsertFinding: p(
        `INSERT INTO findings (event_id, host_no, host_name, hunt_id, detector, techniques, risk_rank, endpoint_risk, score,
           endpoint_score, modifier, dest_id, doc, first_seen, last_seen, count, seq, received_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?, ?, ?, ?, ?, ?)
         ON CONFLICT (event_id) DO UPDATE SET
           host_name = excluded.host_name, hunt_id = excluded.hunt_id, detector = excluded.detector,
           techniques = excluded.techniques, risk_rank = excluded.risk_rank, endpoint_risk = excluded.endpoint_risk,
           score = excluded.score, endpoint_score = excluded.endpoint_score, modifier = excluded.modifier,
           dest_id = excluded.dest_id, doc = excluded.doc, first_seen = min(findings.first_seen, excluded.first_seen),
           last_seen = excluded.last_seen, count = excluded.count, seq = excluded.seq, updated_at = excluded.updated_at
         WHERE findings.host_no = excluded.host_no
           AND (excluded.last_seen > findings.last_seen OR (excluded.last_seen = findings.last_seen AND excluded.count > findings.count))`,
      ),
      findingOwner: p<{ host_no: number }>('SELECT host_no FROM findings WHERE event_id = ?'),
      // Set-based: a destination's findings take its new modifier in one statement.
      rescoreDest: p(
        `UPDATE findings SET modifier = @m,
           score = CASE WHEN @m = 0 THEN endpoint_score ELSE ${ADJUSTED} END,
           risk_rank = CASE WHEN @m = 0 THEN ${ENDPOINT_RANK} ELSE ${riskRankSql(ADJUSTED)} END
         WHERE dest_id = @d AND modifier <> @m`,
      ),
      destsChunk: p<{ dest_id: number; ip: string; port: number; transport: string; hosts: number; modifier: number }>(
        'SELECT dest_id, ip, port, transport, hosts, modifier FROM destinations WHERE dest_id > ? ORDER BY dest_id LIMIT ?',
      ),
      findingById: p<FindingRow>(`${FINDING_SELECT} WHERE f.event_id = ?`),
      setStatus: p('UPDATE findings SET status = ?, updated_at = ? WHERE event_id = ?'),
      insertAllow: p(
        `INSERT INTO allow_rules (scope, process, destination, port, transport, comment, finding_id, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, process, destination, port, transport) DO NOTHING`,
      ),
      allowByKey: p<AllowRow>('SELECT * FROM allow_rules WHERE scope = ? AND process = ? AND destination = ? AND port = ? AND transport = ?'),
      allowById: p<AllowRow>('SELECT * FROM allow_rules WHERE id = ?'),
      deleteAllow: p('DELETE FROM allow_rules WHERE id = ?'),
      listAllow: p<AllowRow>('SELECT * FROM allow_rules ORDER BY id'),
      allowFor: p<AllowRow>(`SELECT * FROM allow_rules WHERE scope IN ('*', ?) ORDER BY id LIMIT ${MAX_RULES_PER_AGENT}`),
      insertAudit: p('INSERT INTO audit (ts, who, action, target, detail) VALUES (?, ?, ?, ?, ?)'),
      // Per host through findings_agent: no index of its own on last_seen (one B-tree less per finding).
      pruneFindings: p('DELETE FROM findings WHERE host_no IN (SELECT host_no FROM hosts) AND last_seen < ?'),
      pruneAudit: p('DELETE FROM audit WHERE ts < ?'),
      pruneSeqs: p<{ n: number }>('DELETE FROM seq_runs WHERE seen_at < ? RETURNING hi - lo + 1 AS n'),
      pruneTriples: p('DELETE FROM fleet_destinations WHERE last_seen < ?'),
    };
  }

  private tx<T>(fn: () => T): T {
    try {
      return this.runTx.immediate(fn) as T;
    } catch (err) {
      this.forgetCaches();
      throw mapSqliteError(err, 'write', this.path);
    }
  }

  /** The caches may hold what a rolled-back transaction wrote. */
  private forgetCaches(): void {
    this.dests.clear();
    this.triples.clear();
    this.hostNos.clear();
    this.activeHosts = null;
  }

  private read<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw mapSqliteError(err, what, this.path);
    }
  }

  private writeAudit(entry: AuditInput, now: number): void {
    this.s.insertAudit.run(now, entry.who, entry.action, entry.target, JSON.stringify(entry.detail ?? {}));
  }

  private findingOf(row: FindingRow): FindingRecord {
    return {
      eventId: row.event_id,
      agentId: row.agent_id,
      hostName: row.host_name,
      huntId: row.hunt_id,
      detector: row.detector,
      techniques: row.techniques.split(',').filter((t) => t !== ''),
      risk: RISKS[row.risk_rank] ?? 'Low',
      endpointRisk: row.endpoint_risk,
      score: row.score,
      endpointScore: row.endpoint_score,
      prevalence: { hosts: row.dest_hosts, fleetSize: this.fleetSize(), modifier: row.modifier },
      status: row.status,
      assignee: row.assignee,
      notes: row.notes,
      doc: JSON.parse(row.doc) as FindingDoc,
      firstSeen: row.first_seen,
      lastSeen: row.last_seen,
      count: row.count,
      seq: row.seq,
      receivedAt: row.received_at,
      updatedAt: row.updated_at,
    };
  }

  // ---- settings and hosts ----

  async getSetting(key: string): Promise<string | null> {
    return this.read('reading a setting', () => this.s.getSetting.get(key)?.value ?? null);
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.tx(() => this.s.setSetting.run(key, value));
  }

  async findHost(agentId: string): Promise<HostRecord | null> {
    const row = this.read('reading a host', () => this.s.hostById.get(agentId) as HostRow | undefined);
    return row ? hostOf(row) : null;
  }

  async findHostByTokenHash(tokenHash: string): Promise<HostRecord | null> {
    const row = this.read('reading a host', () => this.s.hostByToken.get(tokenHash) as HostRow | undefined);
    return row ? hostOf(row) : null;
  }

  async enrollHost(input: { agentId: string; facts: HostFactsWire; agentVersion: string; tokenHash: string; now: number }, audit: AuditInput): Promise<void> {
    this.tx(() => {
      this.s.insertHost.run(input.agentId, input.facts.hostname, JSON.stringify(input.facts), input.agentVersion, input.tokenHash, input.now, input.now);
      this.writeAudit(audit, input.now);
    });
    this.fleetChanged(false);
  }

  async recordConnect(agentId: string, facts: HostFactsWire, agentVersion: string, now: number): Promise<void> {
    this.tx(() => this.s.connectHost.run(facts.hostname, JSON.stringify(facts), agentVersion, now, agentId));
  }

  async recordDisconnect(agentId: string, now: number): Promise<void> {
    this.tx(() => this.s.disconnectHost.run(now, agentId));
  }

  async touchHosts(entries: ReadonlyArray<{ agentId: string; lastSeen: number; pending?: number; dropped?: number }>): Promise<void> {
    if (entries.length === 0) return;
    this.tx(() => {
      for (const e of entries) this.s.touchHost.run(e.lastSeen, e.pending ?? null, e.dropped ?? null, e.agentId);
    });
  }

  async revokeHost(agentId: string, now: number, audit: AuditInput): Promise<boolean> {
    const changed = this.tx(() => {
      if (this.s.hostById.get(agentId) === undefined) return false;
      this.s.revokeHost.run(now, agentId);
      this.writeAudit(audit, now);
      return true;
    });
    if (changed) this.fleetChanged(true);
    return changed;
  }

  async listHosts(): Promise<HostSummary[]> {
    const rows = this.read('listing hosts', () => this.s.listHosts.all() as Array<HostRow & { findings: number }>);
    return rows.map((r) => {
      const { tokenHash: _t, ...host } = hostOf(r);
      return { ...host, findings: r.findings };
    });
  }

  async activeHostCount(): Promise<number> {
    return this.fleetSize();
  }

  async markAllOffline(_now: number): Promise<void> {
    this.tx(() => this.s.allOffline.run());
  }

  // ---- fleet ----

  /** A host joined or left: every modifier may be stale. `recount`: host counts per destination are too. */
  private fleetChanged(recount: boolean): void {
    this.activeHosts = null;
    this.fullPass = 0;
    if (recount) {
      this.recount = true;
      this.dests.clear();
    }
  }

  private fleetSize(): number {
    if (this.activeHosts === null) this.activeHosts = this.read('counting hosts', () => (this.s.activeHosts.get() as { n: number }).n);
    return this.activeHosts;
  }

  /** The modifier the rules give `hosts` of `size` hosts. */
  private modifier(hosts: number, size: number): number {
    const key = hosts * 1_000_003 + size;
    let m = this.modifiers.get(key);
    if (m === undefined) {
      m = modifierFor(this.rules, hosts, size);
      if (this.modifiers.size >= MAX_CACHE) this.modifiers.clear();
      this.modifiers.set(key, m);
    }
    return m;
  }

  async setPrevalenceRules(rules: readonly PrevalenceRule[]): Promise<void> {
    if (JSON.stringify(rules) === JSON.stringify(this.rules)) return;
    this.rules = rules.map((r) => ({ ...r }));
    this.modifiers.clear();
    this.fleetChanged(false);
  }

  /**
   * The destination's state; a destination seen for the first time is created with this host on it
   * (`created`), which saves the statements a known destination needs.
   */
  private destFor(ip: string, port: number, transport: string, size: number): { d: DestState; created: boolean } {
    const key = `${ip}|${port}|${transport}`;
    let d = this.dests.get(key);
    if (d) return { d, created: false };
    let created = false;
    const modifier = this.modifier(1, size);
    const inserted = this.s.insertDest.get(ip, port, transport, 1, modifier) as { dest_id: number } | undefined;
    if (inserted) {
      d = { id: inserted.dest_id, hosts: 1, modifier };
      created = true;
    } else {
      const row = this.s.destByKey.get(ip, port, transport) as { dest_id: number; hosts: number; modifier: number };
      d = { id: row.dest_id, hosts: row.hosts, modifier: row.modifier };
    }
    if (this.dests.size >= MAX_CACHE) {
      // (in a group's transaction: what it changed is written first, or a re-read would see the old counts)
      this.flushTouched();
      this.dests.clear();
    }
    this.dests.set(key, d);
    return { d, created };
  }

  /**
   * Ingest's change of a destination's host count or modifier: kept in memory at once (the group's later findings
   * are scored with it) and written once per group by flushTouched, with the modifier its findings had before.
   */
  private touch(d: DestState, hosts: number, modifier: number): void {
    if (hosts === d.hosts && modifier === d.modifier) return;
    if (!this.touched.has(d)) this.touched.set(d, d.modifier);
    d.hosts = hosts;
    d.modifier = modifier;
  }

  /** Writes the destinations the group touched; those whose modifier moved have their findings re-scored. */
  private flushTouched(): void {
    for (const [d, before] of this.touched) {
      if (d.modifier !== before) this.s.rescoreDest.run({ m: d.modifier, d: d.id });
      this.s.setDest.run(d.hosts, d.modifier, d.id);
    }
    this.touched.clear();
  }

  /** Gives a destination's findings a new modifier (only when it changed: usually a threshold was crossed). */
  private applyModifier(d: DestState, hosts: number, modifier: number): number {
    let updated = 0;
    if (modifier !== d.modifier) updated = this.s.rescoreDest.run({ m: modifier, d: d.id }).changes;
    if (hosts !== d.hosts || modifier !== d.modifier) this.s.setDest.run(hosts, modifier, d.id);
    d.hosts = hosts;
    d.modifier = modifier;
    return updated;
  }

  async refreshFleet(limit: number): Promise<{ updated: number; more: boolean }> {
    if (this.fullPass === null) return { updated: 0, more: false };
    return this.tx(() => {
      const size = this.fleetSize();
      const rows = this.s.destsChunk.all(this.fullPass, limit) as Array<{ dest_id: number; ip: string; port: number; transport: string; hosts: number; modifier: number }>;
      let updated = 0;
      for (const r of rows) {
        const hosts = this.recount ? (this.s.destHostCount.get(r.dest_id) as { n: number }).n : r.hosts;
        const key = `${r.ip}|${r.port}|${r.transport}`;
        const d = this.dests.get(key) ?? { id: r.dest_id, hosts: r.hosts, modifier: r.modifier };
        updated += this.applyModifier(d, hosts, hosts === 0 ? 0 : this.modifier(hosts, size));
      }
      const last = rows[rows.length - 1];
      this.fullPass = rows.length < limit || !last ? null : last.dest_id;
      if (this.fullPass === null) this.recount = false;
      return { updated, more: this.fullPass !== null };
    });
  }

  // ---- ingest ----

  ingestBatch(agentId: string, batch: PreparedBatch, now: number): Promise<IngestResult> {
    return new Promise<IngestResult>((resolve, reject) => {
      this.group.push({ agentId, batch, now, resolve, reject });
      this.groupItems += batch.seqs.length;
      if (this.groupItems >= MAX_GROUP_ITEMS) this.commitGroup();
      else if (!this.groupScheduled) {
        this.groupScheduled = true;
        // Batches that arrive in the same turn of the event loop (many agents at once) share one commit.
        setImmediate(() => this.commitGroup());
      }
    });
  }

  /**
   * One transaction for every batch waiting. A failure there (disk full, I/O) fails them all: nothing of them
   * is kept and each agent resends; constraint failures cannot happen (every write is an upsert).
   */
  private commitGroup(): void {
    this.groupScheduled = false;
    const group = this.group;
    if (group.length === 0) return;
    this.group = [];
    if (!this.db.open) {
      this.groupItems = 0;
      const closed = new SockhuntError('SOCKHUNT_E_DB_WRITE', `${this.path}: the store is closed`);
      for (const batch of group) batch.reject(closed);
      return;
    }
    this.groupItems = 0;
    const ready: Array<{ batch: Pending; hostNo: number }> = [];
    for (const batch of group) {
      try {
        ready.push({ batch, hostNo: this.hostNoOf(batch.agentId) });
      } catch (err) {
        batch.reject(mapSqliteError(err, 'reading a host', this.path));
      }
    }
    let results: IngestResult[];
    try {
      const size = this.fleetSize();
      results = this.tx(() => {
        const out = ready.map((r) => this.ingestOne(r.hostNo, decodeBatch(r.batch.batch), r.batch.now, size));
        this.flushTouched();
        return out;
      });
    } catch (err) {
      // Rolled back: what the caches learned in the transaction (destinations created, hosts on them) is undone too.
      this.touched.clear();
      this.dests.clear();
      this.triples.clear();
      for (const r of ready) r.batch.reject(err);
      return;
    }
    this.onGroupCommit?.({ batches: ready.length, findings: ready.reduce((n, r) => n + r.batch.batch.seqs.length, 0) });
    ready.forEach((r, i) => r.batch.resolve(results[i]!));
  }

  private hostNoOf(agentId: string): number {
    let n = this.hostNos.get(agentId);
    if (n === undefined) {
      const row = this.s.hostNo.get(agentId) as { host_no: number } | undefined;
      if (!row) throw new SockhuntError('SOCKHUNT_E_INPUT', `findings from an agent that is not enrolled: ${agentId}`);
      n = row.host_no;
      this.hostNos.set(agentId, n);
    }
    return n;
  }

  private ingestOne(hostNo: number, items: readonly PreparedFinding[], now: number, size: number): IngestResult {
    const result: IngestResult = { acked: [], rejected: [], stored: 0, duplicates: 0 };
    const s = this.s;
    const seqs = this.seqsSeen(hostNo, items);
    // Seqs of this batch acked (stored, or an older version of what is stored): recorded as runs at the end.
    const fresh: number[] = [];
    const inBatch = new Set<number>();
    for (const f of items) {
      if (seqs.seen(f.seq) || inBatch.has(f.seq)) {
        // Stored before: the agent resends a batch whose ack it lost.
        result.acked.push(f.seq);
        result.duplicates++;
        continue;
      }
      const { d, created } = this.destFor(f.destIp, f.destPort, f.transport, size);
      const tripleKey = `${d.id}|${hostNo}|${f.process}`;
      let written = this.triples.get(tripleKey);
      let newHost = created;
      if (written === undefined && !created) {
        const known = s.pairProcesses.all(d.id, hostNo) as Array<{ process: string; last_seen: number }>;
        written = known.find((k) => k.process === f.process)?.last_seen;
        newHost = known.length === 0;
      }
      // A destination created just now already counts this host.
      const hosts = created ? d.hosts : d.hosts + (newHost ? 1 : 0);
      const modifier = this.modifier(hosts, size);
      const scored = withModifier(f.score, f.risk, modifier);
      const changed = s.upsertFinding.run(
        f.eventId, hostNo, f.hostName, f.huntId, f.detector, f.techniques, RISKS.indexOf(scored.risk), f.risk, scored.score,
        f.score, modifier, d.id, f.doc, f.firstSeen, f.lastSeen, f.count, f.seq, now, now,
      ).changes;
      if (changed === 0) {
        if (created) this.touch(d, 0, 0);
        const owner = s.findingOwner.get(f.eventId) as { host_no: number } | undefined;
        if (owner && owner.host_no !== hostNo) {
          // An event id is global: one agent never overwrites another's finding. (Its seq is not recorded.)
          result.rejected.push({ seq: f.seq, code: 'SOCKHUNT_E_PROTO_IDENTITY', message: `event.id ${f.eventId} belongs to another host` });
        } else {
          // An older or identical version of what is stored.
          result.acked.push(f.seq);
          result.duplicates++;
          fresh.push(f.seq);
          inBatch.add(f.seq);
        }
        continue;
      }
      if (written === undefined || f.lastSeen - written > TRIPLE_REFRESH_MS) {
        s.upsertTriple.run(d.id, hostNo, f.process, f.firstSeen, f.lastSeen);
        if (this.triples.size >= MAX_CACHE) this.triples.clear();
        this.triples.set(tripleKey, Math.max(written ?? 0, f.lastSeen));
      }
      // One more host on this destination, or a modifier left from before the fleet changed size.
      if (!created && (newHost || modifier !== d.modifier)) this.touch(d, hosts, modifier);
      result.acked.push(f.seq);
      result.stored++;
      fresh.push(f.seq);
      inBatch.add(f.seq);
    }
    this.recordSeqs(hostNo, fresh, seqs.before, now);
    return result;
  }

  /**
   * Which of a batch's seqs were stored before (by their runs), and the run just before its first seq (one of this
   * batch's runs may continue it). A batch of consecutive seqs — what agents send — is one statement.
   */
  private seqsSeen(hostNo: number, items: readonly PreparedFinding[]): { seen(seq: number): boolean; before: SeqRun | undefined } {
    let lo = Number.MAX_SAFE_INTEGER;
    let hi = 0;
    for (const f of items) {
      if (f.seq < lo) lo = f.seq;
      if (f.seq > hi) hi = f.seq;
    }
    if (hi - lo < SEQ_SPREAD * items.length) {
      const runs = this.s.seqRuns.all({ h: hostNo, lo, hi }) as SeqRun[];
      let before: SeqRun | undefined;
      for (const r of runs) if (r.lo <= lo && (!before || r.lo > before.lo)) before = r;
      return { seen: (seq) => runs.some((r) => seq >= r.lo && seq <= r.hi), before };
    }
    // Seqs far apart: each looked up on its own (the runs between them could be many).
    const at = (seq: number): SeqRun | undefined => this.s.seqRunAt.get(hostNo, seq) as SeqRun | undefined;
    return {
      seen: (seq) => {
        const r = at(seq);
        return r !== undefined && seq <= r.hi;
      },
      before: at(lo),
    };
  }

  /** Records a batch's acked seqs as runs, the first continuing `before` when it follows it and is recent. */
  private recordSeqs(hostNo: number, seqs: number[], before: SeqRun | undefined, now: number): void {
    if (seqs.length === 0) return;
    seqs.sort((a, b) => a - b);
    let lo = seqs[0]!;
    let prev = lo;
    const write = (a: number, b: number): void => {
      if (before && before.hi + 1 === a && before.seen_at >= now - SEQ_RUN_MS) {
        this.s.extendSeqRun.run(b, Math.max(now, before.seen_at), hostNo, before.lo);
        before.hi = b;
      } else {
        this.s.insertSeqRun.run(hostNo, a, b, now);
      }
    };
    for (let i = 1; i < seqs.length; i++) {
      const seq = seqs[i]!;
      if (seq === prev + 1) {
        prev = seq;
        continue;
      }
      write(lo, prev);
      lo = prev = seq;
    }
    write(lo, prev);
  }

  // ---- findings ----

  async listFindings(filter: FindingFilter, page: { limit: number; cursor: string | null; sort: FindingSort }): Promise<Page<FindingRecord>> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.host !== undefined) {
      where.push('(h.agent_id = ? OR f.host_name = ?)');
      args.push(filter.host, filter.host);
    }
    if (filter.risk !== undefined) {
      where.push('f.risk_rank >= ?');
      args.push(RISKS.indexOf(filter.risk));
    }
    if (filter.technique !== undefined) {
      where.push("(instr(f.techniques, ',' || ? || ',') > 0 OR instr(f.techniques, ',' || ? || '.') > 0)");
      args.push(filter.technique, filter.technique);
    }
    if (filter.detector !== undefined) {
      where.push('f.detector = ?');
      args.push(filter.detector);
    }
    if (filter.status !== undefined) {
      where.push('f.status = ?');
      args.push(filter.status);
    }
    if (filter.since !== undefined) {
      where.push('f.last_seen >= ?');
      args.push(filter.since);
    }
    let order: string;
    if (page.sort === 'risk') {
      // Risk first, then rarity in the fleet (rare destinations carry a positive modifier), then recency.
      order = 'f.risk_rank DESC, f.modifier DESC, f.last_seen DESC, f.event_id ASC';
      if (page.cursor !== null) {
        const [rank, mod, last, id] = decodeCursor(page.cursor, RiskCursor);
        where.push(
          '(f.risk_rank < ? OR (f.risk_rank = ? AND (f.modifier < ? OR (f.modifier = ? AND (f.last_seen < ? OR (f.last_seen = ? AND f.event_id > ?))))))',
        );
        args.push(rank, rank, mod, mod, last, last, id);
      }
    } else {
      order = 'f.last_seen DESC, f.event_id ASC';
      if (page.cursor !== null) {
        const [last, id] = decodeCursor(page.cursor, RecentCursor);
        where.push('(f.last_seen < ? OR (f.last_seen = ? AND f.event_id > ?))');
        args.push(last, last, id);
      }
    }
    const sql = `${FINDING_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ?`;
    const rows = this.read('listing findings', () => this.db.prepare(sql).all(...args, page.limit + 1) as FindingRow[]);
    const more = rows.length > page.limit;
    const items = rows.slice(0, page.limit);
    const last = items[items.length - 1];
    let nextCursor: string | null = null;
    if (more && last) {
      nextCursor = page.sort === 'risk' ? encodeCursor([last.risk_rank, last.modifier, last.last_seen, last.event_id]) : encodeCursor([last.last_seen, last.event_id]);
    }
    return { items: items.map((r) => this.findingOf(r)), nextCursor };
  }

  async getFinding(eventId: string): Promise<FindingRecord | null> {
    const row = this.read('reading a finding', () => this.s.findingById.get(eventId) as FindingRow | undefined);
    return row ? this.findingOf(row) : null;
  }

  async updateTriage(eventId: string, patch: TriagePatch, now: number, audit: AuditInput): Promise<FindingRecord | null> {
    return this.tx(() => {
      const row = this.s.findingById.get(eventId) as FindingRow | undefined;
      if (!row) return null;
      const sets: string[] = [];
      const args: unknown[] = [];
      if (patch.status !== undefined) {
        sets.push('status = ?');
        args.push(patch.status);
      }
      if (patch.assignee !== undefined) {
        sets.push('assignee = ?');
        args.push(patch.assignee);
      }
      if (patch.notes !== undefined) {
        sets.push('notes = ?');
        args.push(patch.notes);
      }
      sets.push('updated_at = ?');
      args.push(now, eventId);
      this.db.prepare(`UPDATE findings SET ${sets.join(', ')} WHERE event_id = ?`).run(...args);
      this.writeAudit({ ...audit, detail: { ...audit.detail, before: { status: row.status, assignee: row.assignee, notes: row.notes } } }, now);
      return this.findingOf(this.s.findingById.get(eventId) as FindingRow);
    });
  }

  async listDestinations(query: { maxHosts?: number; limit: number }): Promise<DestinationSummary[]> {
    const size = this.fleetSize();
    const rows = this.read(
      'listing destinations',
      () =>
        this.db
          .prepare(
            `SELECT d.ip, d.port, d.transport, d.hosts,
               (SELECT json_group_array(DISTINCT h.agent_id) FROM fleet_destinations x JOIN hosts h ON h.host_no = x.host_no
                WHERE x.dest_id = d.dest_id) AS host_ids,
               (SELECT json_group_array(DISTINCT x.process) FROM fleet_destinations x WHERE x.dest_id = d.dest_id) AS processes,
               (SELECT min(x.first_seen) FROM fleet_destinations x WHERE x.dest_id = d.dest_id) AS first_seen,
               (SELECT max(x.last_seen) FROM fleet_destinations x WHERE x.dest_id = d.dest_id) AS last_seen,
               (SELECT count(*) FROM findings f WHERE f.dest_id = d.dest_id) AS findings
             FROM destinations d WHERE d.hosts > 0 ${query.maxHosts !== undefined ? 'AND d.hosts <= ?' : ''}
             ORDER BY d.hosts ASC, d.dest_id DESC LIMIT ?`,
          )
          .all(...(query.maxHosts !== undefined ? [query.maxHosts] : []), query.limit) as Array<{
          ip: string;
          port: number;
          transport: 'tcp' | 'udp';
          hosts: number;
          host_ids: string;
          processes: string;
          findings: number;
          first_seen: number;
          last_seen: number;
        }>,
    );
    return rows.map((r) => ({
      ip: r.ip,
      port: r.port,
      transport: r.transport,
      hosts: r.hosts,
      prevalence: Math.min(1, r.hosts / Math.max(size, 1)),
      hostIds: (JSON.parse(r.host_ids) as string[]).slice(0, 100),
      processes: (JSON.parse(r.processes) as string[]).filter((p) => p !== '').slice(0, 100),
      findings: r.findings,
      firstSeen: r.first_seen,
      lastSeen: r.last_seen,
    }));
  }

  // ---- allow rules ----

  async addAllowRule(rule: AllowRuleInput, now: number, audit: AuditInput, finding?: { eventId: string; status: FindingStatus }): Promise<AllowRuleRecord> {
    return this.tx(() => {
      const scope = rule.agentId ?? '*';
      const port = rule.port ?? 0;
      const transport = rule.transport ?? '';
      this.s.insertAllow.run(scope, rule.process, rule.destination, port, transport, rule.comment, rule.findingId, rule.createdBy, now);
      const stored = this.s.allowByKey.get(scope, rule.process, rule.destination, port, transport) as AllowRow;
      if (finding) this.s.setStatus.run(finding.status, now, finding.eventId);
      this.writeAudit({ ...audit, detail: { ...audit.detail, rule_id: stored.id } }, now);
      return allowOf(stored);
    });
  }

  async deleteAllowRule(id: number, audit: AuditInput): Promise<AllowRuleRecord | null> {
    return this.tx(() => {
      const row = this.s.allowById.get(id) as AllowRow | undefined;
      if (!row) return null;
      this.s.deleteAllow.run(id);
      this.writeAudit(audit, Date.now());
      return allowOf(row);
    });
  }

  async listAllowRules(): Promise<AllowRuleRecord[]> {
    return this.read('listing allow rules', () => (this.s.listAllow.all() as AllowRow[]).map(allowOf));
  }

  async allowRulesFor(agentId: string): Promise<AllowRuleWire[]> {
    const rows = this.read('listing allow rules', () => this.s.allowFor.all(agentId) as AllowRow[]);
    return rows.map((r) => ({
      process: r.process,
      destination: r.destination,
      port: r.port === 0 ? null : r.port,
      transport: r.transport === '' ? null : r.transport,
      comment: r.comment,
    }));
  }

  // ---- audit and retention ----

  async audit(entry: AuditInput, now: number): Promise<void> {
    this.tx(() => this.writeAudit(entry, now));
  }

  async listAudit(query: { limit: number; cursor: string | null; action?: string; since?: number }): Promise<Page<AuditRecord>> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.cursor !== null) {
      const id = Number(query.cursor);
      if (!/^\d{1,15}$/.test(query.cursor)) throw new SockhuntError('SOCKHUNT_E_INPUT', 'invalid cursor (pass back the next_cursor of the previous page)');
      where.push('id < ?');
      args.push(id);
    }
    if (query.action !== undefined) {
      where.push('action = ?');
      args.push(query.action);
    }
    if (query.since !== undefined) {
      where.push('ts >= ?');
      args.push(query.since);
    }
    const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.read('listing audit', () => this.db.prepare(sql).all(...args, query.limit + 1) as AuditRow[]);
    const items = rows.slice(0, query.limit);
    const last = items[items.length - 1];
    return { items: items.map(auditOf), nextCursor: rows.length > query.limit && last ? String(last.id) : null };
  }

  async prune(now: number, retentionMs: number, seqRetentionMs: number): Promise<PruneResult> {
    const cutoff = now - retentionMs;
    const result = this.tx(() => ({
      findings: this.s.pruneFindings.run(cutoff).changes,
      audit: this.s.pruneAudit.run(cutoff).changes,
      seqs: (this.s.pruneSeqs.all(now - seqRetentionMs) as Array<{ n: number }>).reduce((sum, r) => sum + r.n, 0),
      destinations: this.s.pruneTriples.run(cutoff).changes,
    }));
    if (result.destinations > 0) {
      this.triples.clear();
      this.fleetChanged(true);
    }
    return result;
  }

  async close(): Promise<void> {
    this.commitGroup();
    if (this.db.open) this.db.close();
  }
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
  return new SqliteServerStore(db, db.name, opts.prevalence ?? [], opts.onGroupCommit);
}
