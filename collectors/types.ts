// The shapes every collector produces. Field names follow ECS (see DESIGN.md, "Connection row").

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
