// What detectors read the agent's stores through: the baseline and the connection history, as interfaces the
// stores implement. Detectors never see SQL; stores never see detectors.
import type { Connection, ConnectionEvent, Transport } from './connection.js';
import type { ProcessKey } from './process-key.js';

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

