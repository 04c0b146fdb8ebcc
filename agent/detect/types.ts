// The contract between the loop, the detectors and the store. Detectors are pure:
// (context, params) → FindingDraft[]. They never touch SQL or the clock; everything they need is in the context.
import type { Connection, Transport } from '../../collectors/types.js';

export type Risk = 'Critical' | 'High' | 'Medium' | 'Low';
export type Confidence = 'High' | 'Medium' | 'Low';
export const RISKS: readonly Risk[] = ['Low', 'Medium', 'High', 'Critical'];

export interface Technique {
  id: string;
  name: string;
}

/** Stable identity of "what a process is" across restarts: executable, plus the script for interpreters. */
export type ProcessKey = string;

/** The process key of connections no process could be tied to (traces of closed sockets, conntrack flows). */
export const UNATTRIBUTED: ProcessKey = 'unattributed';

/** A connection the loop saw start (first sample it appeared in), enriched with its process key. */
export interface ConnectionEvent {
  /** Milliseconds since the epoch, the sample time at which it was first seen (or, for TIME_WAIT leftovers, estimated). */
  ts: number;
  processKey: ProcessKey | null;
  row: Connection;
  /** How the owner was attributed: 'socket' (fd link), 'inferred' (same destination owned earlier / same uid), 'none'. */
  attribution: 'socket' | 'inferred' | 'none';
}

/** What the baseline knows about a process, read through this interface only. */
export interface BaselineView {
  /** Number of processes in the baseline; 0 means the baseline is empty. */
  processCount(): number;
  /** Whether the process ever networked during learning. */
  hasProcess(key: ProcessKey): boolean;
  /** Exact destination (ip, port, transport) known for this process. */
  hasEndpoint(key: ProcessKey, ip: string, port: number, transport: Transport): boolean;
  /** The /24 (IPv4) or /48 (IPv6) network known for this process. */
  hasNetwork(key: ProcessKey, ip: string): boolean;
  /** The remote port known for this process (any address). */
  hasPort(key: ProcessKey, port: number, transport: Transport): boolean;
  /** Learned connection starts per minute for this process (null when unknown). */
  connectionRate(key: ProcessKey): number | null;
  /** Learned rate of DNS (port 53) packets/sockets per minute for this process. */
  dnsRate(key: ProcessKey): number | null;
  /** An allow pattern (from `baseline allow` or the server) covers this process → destination. */
  isAllowed(key: ProcessKey, ip: string, port: number, transport: Transport): boolean;
  /**
   * Optional: a number that changes whenever any answer above may change (learning, a reload, allow rules). With it
   * detectors may cache per-pair baseline answers; without it they ask every time.
   */
  version?(): number;
}

/** Host facts that detectors need besides connections. */
export interface HostFacts {
  hostName: string;
  /** Resolver addresses from /etc/resolv.conf and systemd-resolved upstreams. */
  resolvers: string[];
  /** CIDRs treated as internal (settings + the host's own interface subnets). */
  internalNetworks: string[];
  /** Delta of /proc/net/snmp Tcp counters since the previous sample (null on the first). */
  tcpCounterDelta: { activeOpens: number; attemptFails: number; outRsts: number } | null;
  /** CPU use of owning processes over the last sample interval, % of one core, by pid. */
  processCpu: Map<number, number>;
}

/** A (process, destination) pair of the history window. */
export interface HistoryPair {
  readonly processKey: ProcessKey;
  readonly ip: string;
  readonly port: number;
  readonly transport: Transport;
  /** Optional: the pair's start times, oldest first: what `starts(…)` returns, without the lookup. */
  readonly starts?: readonly number[];
  /**
   * Optional: changes whenever the pair's starts or their attributions change (added, aged out, capped, rolled
   * back) and only then. The pair object stays the same while the pair is in the window, so a detector may cache a
   * per-pair result on (object, version).
   */
  readonly version?: number;
}

/** Per process and destination, connection starts seen in the detection window (and persisted across restarts). */
export interface HistoryView {
  /** Start times (ms) of connections from this process to this destination, oldest first. */
  starts(key: ProcessKey, ip: string, port: number, transport: Transport): readonly number[];
  /**
   * All (process, destination) pairs with at least one start in the window. Read-only: a view may hand out the same
   * array while the set of pairs does not change.
   */
  pairs(): readonly HistoryPair[];
  /** Optional: the same starts with how each was attributed (beacon confidence drops for 'inferred'/'none'). */
  events?(key: ProcessKey, ip: string, port: number, transport: Transport): Array<{ ts: number; attribution: ConnectionEvent['attribution'] }>;
  /** Optional: the most recent row seen for this pair (process details for findings whose sockets are gone). */
  lastRow?(key: ProcessKey, ip: string, port: number, transport: Transport): Connection | null;
}

export interface DetectContext {
  now: number;
  /** The current sample. */
  rows: Connection[];
  /** Connections that started since the previous sample. */
  started: ConnectionEvent[];
  history: HistoryView;
  baseline: BaselineView;
  host: HostFacts;
  /** Process key of a row (the loop computes it once). */
  keyOf(row: Connection): ProcessKey | null;
  /** Optional: the loop's sampling interval, i.e. the time resolution of ConnectionEvent.ts (default 1000). */
  sampleIntervalMs?: number;
  /** Optional: milliseconds since this socket (inode) was first seen; null when unknown. */
  ageOf?(row: Connection): number | null;
  /** Optional: the name a destination address was resolved from, when the loop knows it (DNS cache). */
  domainOf?(ip: string): string | null;
}

export interface Evidence {
  [field: string]: unknown;
}

export interface FindingDraft {
  detector: string;
  technique: Technique[];
  rule: { id: string; name: string; author?: string; reference?: string[]; ruleset: string };
  processKey: ProcessKey | null;
  /** The row that best represents the finding (process, user, destination). */
  row: Connection;
  destination: { ip: string; port: number; domain?: string };
  risk: Risk;
  confidence: Confidence;
  score: number;
  recommendedAction: string;
  evidence: Evidence[];
  /** Optional: replaces the destination in the dedupe key (a scan groups by target network or port class). */
  dedupeGroup?: string;
}

export interface ParamSpec {
  type: 'number' | 'integer' | 'boolean' | 'string' | 'string[]' | 'number[]';
  default: unknown;
  description: string;
  /** Optional bounds for number/integer params (and each element of number[]). */
  min?: number;
  max?: number;
}

export interface DetectorSpec<P> {
  id: string;
  name: string;
  technique: Technique[];
  description: string;
  references: string[];
  params: { [K in keyof P]: ParamSpec };
}

export interface Detector<P = Record<string, unknown>> {
  spec: DetectorSpec<P>;
  detect(ctx: DetectContext, params: P): FindingDraft[];
}
