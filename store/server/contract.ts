// The server's storage contract. Every method is async so that a PostgreSQL implementation can follow the
// SQLite one (store/server/sqlite.ts) without touching ingest or the API. Each mutating method is one
// transaction, including the audit entry it is given.
import type { FindingDoc } from '../../core/finding.js';
import type { Risk } from '../../core/risk.js';
import type { HostFactsWire, AllowRuleWire } from '../../core/protocol.js';
import type { PreparedBatch } from './batch.js';

export const FINDING_STATUSES = ['new', 'investigating', 'true_positive', 'false_positive', 'closed'] as const;
export type FindingStatus = (typeof FINDING_STATUSES)[number];

export interface HostRecord {
  agentId: string;
  hostname: string;
  facts: HostFactsWire;
  agentVersion: string;
  tokenHash: string;
  revoked: boolean;
  revokedAt: number | null;
  enrolledAt: number;
  lastSeen: number;
  online: boolean;
  outboxPending: number | null;
  outboxDropped: number | null;
}

export interface HostSummary extends Omit<HostRecord, 'tokenHash'> {
  findings: number;
}

export interface AuditInput {
  who: string;
  action: string;
  target: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends Required<AuditInput> {
  id: number;
  ts: number;
}


export interface IngestRejection {
  seq: number;
  code: 'SOCKHUNT_E_PROTO_IDENTITY';
  message: string;
}

export interface IngestResult {
  /** Durable now: stored, updated, or already stored before (duplicate seq or stale update). */
  acked: number[];
  rejected: IngestRejection[];
  stored: number;
  duplicates: number;
}

export interface FindingRecord {
  eventId: string;
  agentId: string;
  hostName: string;
  huntId: string;
  detector: string;
  techniques: string[];
  risk: Risk;
  endpointRisk: Risk;
  score: number;
  endpointScore: number;
  /**
   * What fleet policy (server/fleet.ts) needs to explain the score: the destination's host count and fleet size
   * today, and the modifier the stored score was computed with.
   */
  prevalence: { hosts: number; fleetSize: number; modifier: number };
  status: FindingStatus;
  assignee: string | null;
  notes: string | null;
  /** The agent's document as received (without server fields). */
  doc: FindingDoc;
  firstSeen: number;
  lastSeen: number;
  count: number;
  seq: number;
  receivedAt: number;
  updatedAt: number;
}

export interface FindingFilter {
  /** Agent id or host name. */
  host?: string;
  /** Minimum (re-scored) risk. */
  risk?: Risk;
  technique?: string;
  detector?: string;
  status?: FindingStatus;
  /** Last seen at or after (ms). */
  since?: number;
}

export type FindingSort = 'risk' | 'recent';

export interface Page<T> {
  items: T[];
  /** Opaque; pass back as `cursor` for the next page, null at the end. */
  nextCursor: string | null;
}

export interface TriagePatch {
  status?: FindingStatus;
  assignee?: string | null;
  notes?: string | null;
}

export interface DestinationSummary {
  ip: string;
  port: number;
  transport: 'tcp' | 'udp';
  hosts: number;
  prevalence: number;
  hostIds: string[];
  processes: string[];
  findings: number;
  firstSeen: number;
  lastSeen: number;
}

export interface AllowRuleInput {
  /** null: fleet-wide. */
  agentId: string | null;
  process: string;
  destination: string;
  port: number | null;
  transport: 'tcp' | 'udp' | null;
  comment: string | null;
  findingId: string | null;
  createdBy: string;
}

export interface AllowRuleRecord extends AllowRuleInput {
  id: number;
  createdAt: number;
}

/**
 * One step of fleet policy as data (server/fleet.ts decides them; the store only applies them): a destination that
 * `hosts` of `fleetSize` hosts talk to has share max(hosts, 1) / max(fleetSize, hosts, 1); the first rule whose
 * share test holds in a fleet of at least `minFleet` hosts gives its `modifier`, none gives 0. A finding's stored
 * score is its endpoint score plus the modifier, clamped to 0–1 and rounded to 3 decimals, banded with core/risk
 * (unchanged, with the agent's risk, when the modifier is 0).
 */
export interface PrevalenceRule {
  share: 'atMost' | 'atLeast';
  at: number;
  minFleet: number;
  modifier: number;
}

export interface PruneResult {
  findings: number;
  audit: number;
  seqs: number;
  destinations: number;
}

export interface ServerStore {
  readonly kind: 'sqlite' | 'postgres';

  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;

  findHost(agentId: string): Promise<HostRecord | null>;
  findHostByTokenHash(tokenHash: string): Promise<HostRecord | null>;
  enrollHost(input: { agentId: string; facts: HostFactsWire; agentVersion: string; tokenHash: string; now: number }, audit: AuditInput): Promise<void>;
  /** On every authenticated connection: facts, version, online, last seen. */
  recordConnect(agentId: string, facts: HostFactsWire, agentVersion: string, now: number): Promise<void>;
  recordDisconnect(agentId: string, now: number): Promise<void>;
  /** Last-seen and outbox figures gathered in memory, written in one transaction. */
  touchHosts(entries: ReadonlyArray<{ agentId: string; lastSeen: number; pending?: number; dropped?: number }>): Promise<void>;
  /** Returns false when the host is unknown. Its findings stay. */
  revokeHost(agentId: string, now: number, audit: AuditInput): Promise<boolean>;
  listHosts(): Promise<HostSummary[]>;
  /** Hosts that are enrolled and not revoked: the denominator of fleet prevalence. */
  activeHostCount(): Promise<number>;
  markAllOffline(now: number): Promise<void>;

  /**
   * Validated items of one authenticated agent (their host.id already checked), committed in one
   * transaction before the promise resolves. Implementations may commit several agents' batches together.
   * The batch's documents may be moved to another thread: only its `seqs` and `hostIds` are readable after.
   */
  ingestBatch(agentId: string, batch: PreparedBatch, now: number): Promise<IngestResult>;
  /**
   * After the fleet changed size (enrolment, revocation, retention): re-scores the findings of destinations
   * whose prevalence modifier changed, about `limit` destinations per call; `more` says whether work is left.
   */
  refreshFleet(limit: number): Promise<{ updated: number; more: boolean }>;
  /**
   * The fleet policy ingest and refreshFleet apply (none until set: every modifier 0). Setting other rules makes
   * every stored modifier stale: refreshFleet re-scores.
   */
  setPrevalenceRules(rules: readonly PrevalenceRule[]): Promise<void>;

  listFindings(filter: FindingFilter, page: { limit: number; cursor: string | null; sort: FindingSort }): Promise<Page<FindingRecord>>;
  getFinding(eventId: string): Promise<FindingRecord | null>;
  updateTriage(eventId: string, patch: TriagePatch, now: number, audit: AuditInput): Promise<FindingRecord | null>;

  listDestinations(query: { maxHosts?: number; limit: number }): Promise<DestinationSummary[]>;

  /** Adds the rule (idempotent) and, when given, sets the finding's status; returns the stored rule. */
  addAllowRule(rule: AllowRuleInput, now: number, audit: AuditInput, finding?: { eventId: string; status: FindingStatus }): Promise<AllowRuleRecord>;
  deleteAllowRule(id: number, audit: AuditInput): Promise<AllowRuleRecord | null>;
  listAllowRules(): Promise<AllowRuleRecord[]>;
  /** Fleet-wide rules plus the host's own, in the wire form. */
  allowRulesFor(agentId: string): Promise<AllowRuleWire[]>;

  audit(entry: AuditInput, now: number): Promise<void>;
  listAudit(query: { limit: number; cursor: string | null; action?: string; since?: number }): Promise<Page<AuditRecord>>;

  prune(now: number, retentionMs: number, seqRetentionMs: number): Promise<PruneResult>;
  close(): Promise<void>;
}
