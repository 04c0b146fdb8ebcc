// The shapes every collector produces. Field names follow ECS (see DESIGN.md, "Connection row").

export { TCP_STATES, type Transport, type Family, type TcpState, type SocketState, type Connection } from '../core/connection.js';
import type { Connection, Family, SocketState, Transport } from '../core/connection.js';

/** One socket as a kernel table (or a platform tool) reports it, before owners are attached. */
export interface RawSocket {
  family: Family;
  transport: Transport;
  state: SocketState;
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  /** Owning uid as the kernel records it (null where the source does not say). */
  uid: number | null;
  /** Socket inode; 0 for sockets no file descriptor holds (TIME_WAIT, orphaned). */
  inode: number;
  /** Time left on a TIME_WAIT socket's timer, in ms (netlink only): when the connection closed. */
  timerMs?: number;
  /** Owning pid where the source reports it directly (Windows/macOS tools); Linux leaves it undefined. */
  pid?: number | null;
  /** Process name where the source reports it directly. */
  processName?: string | null;
}

export interface ProcessInfo {
  pid: number;
  /** Full name: basename of the executable or argv[0]; comm (cut at 15 chars by the kernel) as the last resort. */
  name: string;
  /** /proc/<pid>/comm as the kernel keeps it. */
  comm: string | null;
  executable: string | null;
  /** True when /proc/<pid>/exe points at a file deleted from disk. */
  executableDeleted: boolean;
  commandLine: string | null;
  uid: number | null;
  userName: string | null;
  ppid: number | null;
  parentName: string | null;
  /** Start time in clock ticks since boot (Linux), or null. */
  startTime: number | null;
}

export interface SampleOptions {
  /** 'all' reads every network namespace found among processes; 'self' only the collector's own. */
  netns?: 'self' | 'all';
}

export interface CollectorSpec {
  id: string;
  description: string;
  platforms: NodeJS.Platform[];
  /** What this collector cannot see, shown in docs and `--help`. */
  limitations: string[];
}

export interface Collector {
  readonly spec: CollectorSpec;
  sample(options?: SampleOptions): Promise<Connection[]>;
  close?(): void;
}
