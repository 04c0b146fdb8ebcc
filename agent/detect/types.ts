// The contract between the loop, the detectors and the store. Detectors are pure:
// (context, params) → FindingDraft[]. They never touch SQL or the clock; everything they need is in the context.
import type { Connection, Transport } from '../../collectors/types.js';
import type { FindingDraftOf, Technique } from '../../core/finding.js';
import type { ProcessKey } from '../../core/process-key.js';

export { RISKS, type Risk, type Confidence } from '../../core/risk.js';
export { UNATTRIBUTED, type ProcessKey } from '../../core/process-key.js';
export type { Technique, Evidence } from '../../core/finding.js';
export type { ConnectionEvent } from '../../core/connection.js';
export type { BaselineView, HistoryPair, HistoryView } from '../../core/views.js';
import type { ConnectionEvent } from '../../core/connection.js';
import type { BaselineView, HistoryView } from '../../core/views.js';

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

/** What a detector returns: the core draft, with the whole connection row that best represents the finding. */
export type FindingDraft = FindingDraftOf<Connection>;

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
