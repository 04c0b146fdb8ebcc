// The connection row (DESIGN.md "Connection row"): one socket with its owner, as every collector produces it
// and as snapshots, history, live response and rules read it. Field names follow ECS.
import type { ProcessKey } from './process-key.js';

export type Transport = 'tcp' | 'udp';
export type Family = 'inet' | 'inet6';

export const TCP_STATES = [
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
] as const;
export type TcpState = (typeof TCP_STATES)[number];
/** UDP sockets are ESTABLISHED when connected, UNCONNECTED otherwise. */
export type SocketState = TcpState | 'UNCONNECTED' | 'NEW_SYN_RECV' | 'UNKNOWN';

export interface Connection {
  '@timestamp': string;
  host: { name: string; id?: string };
  process: {
    pid: number | null;
    name: string | null;
    executable: string | null;
    executable_deleted?: boolean;
    command_line: string | null;
    start_time?: number | null;
    parent: { pid: number | null; name: string | null };
  };
  user: { name: string | null; id: string | null };
  source: { ip: string; port: number };
  /** `domain`: the name the host looked up for the address, where the agent saw the DNS answer (live response). */
  destination: { ip: string; port: number; domain?: string };
  network: { transport: Transport; type: 'ipv4' | 'ipv6'; direction?: 'egress' | 'ingress' };
  socket: {
    state: SocketState;
    inode: number;
    family: Family;
    owner_pids: number[];
    netns?: string;
    /** TIME_WAIT only: ms left before the kernel forgets it (it started at 60 s when the connection closed). */
    timer_ms?: number;
  };
  container?: { id: string };
}

/** A connection the loop saw start (first sample it appeared in), enriched with its process key. */
export interface ConnectionEvent {
  /** Milliseconds since the epoch, the sample time at which it was first seen (or, for TIME_WAIT leftovers, estimated). */
  ts: number;
  processKey: ProcessKey | null;
  row: Connection;
  /** How the owner was attributed: 'socket' (fd link), 'inferred' (same destination owned earlier / same uid), 'none'. */
  attribution: 'socket' | 'inferred' | 'none';
}

