// The Linux collector: kernel socket tables (netlink sock_diag when the addon is built, /proc/net otherwise),
// one read per network namespace, and socket → process attribution through /proc/<pid>/fd with a cache.
import { hostname } from 'node:os';
import type { Collector, CollectorSpec, Connection, ProcessInfo, RawSocket, SampleOptions } from './types.js';
import { type ProcReader, fsProcReader, parseNamespaceLink, parseSocketTable, parseContainerId } from './procfs.js';
import { ipType } from '../core/ip.js';
import { directionOf, listenerIndex, type ListenerIndex } from './direction.js';
import { OwnerIndex } from './linux-owners.js';
import { ProcessCache } from './linux-processes.js';
import { loadSockDiag, type SockDiag } from './sockdiag.js';
import { SockhuntError } from '../core/errors.js';

export const linuxSpec: CollectorSpec = {
  id: 'linux',
  description: 'Kernel socket tables (netlink sock_diag, /proc/net fallback) with owners from /proc/<pid>/fd.',
  platforms: ['linux'],
  limitations: [
    'Sockets of processes whose /proc/<pid>/fd cannot be read (not root) have process.pid null.',
    'TIME_WAIT and orphaned sockets have no owner (inode 0).',
  ],
};

const TABLES = [
  ['tcp', 'tcp', 'inet'],
  ['tcp6', 'tcp', 'inet6'],
  ['udp', 'udp', 'inet'],
  ['udp6', 'udp', 'inet6'],
] as const;

export interface LinuxCollectorOptions {
  reader?: ProcReader;
  /** 'auto' uses the sock_diag addon when it loads; 'proc' always reads /proc/net. */
  tables?: 'auto' | 'proc' | 'netlink';
  hostName?: string;
}

interface NamespaceInfo {
  /** A live pid inside the namespace whose /proc/<pid>/net and ns/net we read. */
  pid: number;
  containerId: string | null;
}

export class LinuxCollector implements Collector {
  readonly spec = linuxSpec;
  private readonly reader: ProcReader;
  private readonly sockDiag: SockDiag | null;
  private readonly owners: OwnerIndex;
  private readonly processes: ProcessCache;
  private readonly hostName: string;
  private readonly selfNetns: string | null;
  /** pid → network namespace id, for pids seen so far. */
  private readonly pidNetns = new Map<number, string | null>();
  private readonly containerByPid = new Map<number, string | null>();
  /** Unreadable table lines in the last sample. */
  lastSkipped = 0;

  constructor(options: LinuxCollectorOptions = {}) {
    this.reader = options.reader ?? fsProcReader;
    const mode = options.tables ?? 'auto';
    this.sockDiag = mode === 'proc' ? null : loadSockDiag();
    if (mode === 'netlink' && !this.sockDiag) {
      throw new SockhuntError('SOCKHUNT_E_ADDON', 'the sock_diag addon is not built (run `npm run build:addon`)');
    }
    this.owners = new OwnerIndex(this.reader);
    this.processes = new ProcessCache(this.reader);
    this.hostName = options.hostName ?? hostname();
    const self = this.reader.readlink('/proc/self/ns/net');
    this.selfNetns = self ? parseNamespaceLink(self) : null;
  }

  /** Which kernel interface the tables come from. */
  get tableSource(): 'netlink' | 'proc' {
    return this.sockDiag ? 'netlink' : 'proc';
  }

  async sample(options: SampleOptions = {}): Promise<Connection[]> {
    return this.sampleSync(options);
  }

  /** The sample itself is synchronous: /proc and netlink reads are fast and this keeps it one tight pass. */
  sampleSync(options: SampleOptions = {}): Connection[] {
    const timestamp = new Date().toISOString();
    this.processes.beginSample();
    const pids = this.listPids();
    const namespaces = options.netns === 'self' ? new Map<string, NamespaceInfo>() : this.foreignNamespaces(pids);

    const groups: Array<{ sockets: RawSocket[]; netns: string | null; info: NamespaceInfo | null }> = [];
    let skipped = 0;
    const own = this.readTables(null);
    skipped += own.skipped;
    groups.push({ sockets: own.sockets, netns: null, info: null });
    for (const [ns, info] of namespaces) {
      const t = this.readTables(info.pid);
      skipped += t.skipped;
      groups.push({ sockets: t.sockets, netns: ns, info });
    }
    this.lastSkipped = skipped;

    const inodes: number[] = [];
    for (const g of groups) for (const s of g.sockets) if (s.inode !== 0) inodes.push(s.inode);
    let uids: Map<number, number | null> | null = null;
    const ownerMap = this.owners.resolve(inodes, pids, {
      startTime: (pid) => this.processes.startTime(pid),
      parent: (pid) => this.processes.parent(pid),
      uidOf: (inode) => {
        if (!uids) {
          uids = new Map();
          for (const g of groups) for (const s of g.sockets) if (s.inode !== 0) uids.set(s.inode, s.uid);
        }
        return uids.get(inode) ?? null;
      },
    });
    this.processes.retain(pids);

    const rows: Connection[] = [];
    const shared: SampleShared = { host: { name: this.hostName }, byOwner: new Map() };
    for (const g of groups) {
      const listeners = listenerIndex(g.sockets);
      for (const s of g.sockets) {
        const ownerPids = s.inode !== 0 ? (ownerMap.get(s.inode) ?? []) : [];
        rows.push(this.toRow(s, ownerPids, listeners, timestamp, g.netns, g.info?.containerId ?? null, shared));
      }
    }
    return rows;
  }

  /** CPU use (% of one core) of the processes that owned sockets, over the time between their last two reads. */
  processCpu(): Map<number, number> {
    return this.processes.cpuPercent();
  }

  private listPids(): Set<number> {
    const entries = this.reader.readdir('/proc');
    if (!entries) throw new SockhuntError('SOCKHUNT_E_COLLECT', '/proc cannot be read: is procfs mounted?');
    const pids = new Set<number>();
    for (const e of entries) {
      const c = e.charCodeAt(0);
      if (c >= 48 && c <= 57) pids.add(Number(e));
    }
    for (const pid of this.pidNetns.keys()) if (!pids.has(pid)) this.pidNetns.delete(pid);
    for (const pid of this.containerByPid.keys()) if (!pids.has(pid)) this.containerByPid.delete(pid);
    return pids;
  }

  private foreignNamespaces(pids: Set<number>): Map<string, NamespaceInfo> {
    const found = new Map<string, NamespaceInfo>();
    for (const pid of pids) {
      let ns = this.pidNetns.get(pid);
      if (ns === undefined) {
        const link = this.reader.readlink(`/proc/${pid}/ns/net`);
        ns = link ? parseNamespaceLink(link) : null;
        this.pidNetns.set(pid, ns);
      }
      if (ns === null || ns === this.selfNetns || found.has(ns)) continue;
      found.set(ns, { pid, containerId: this.containerId(pid) });
    }
    return found;
  }

  private containerId(pid: number): string | null {
    let id = this.containerByPid.get(pid);
    if (id === undefined) {
      const text = this.reader.readText(`/proc/${pid}/cgroup`);
      id = text ? parseContainerId(text) : null;
      this.containerByPid.set(pid, id);
    }
    return id;
  }

  /** Reads the four tables of one namespace: the collector's own (pid null) or that of pid. */
  private readTables(pid: number | null): { sockets: RawSocket[]; skipped: number } {
    if (this.sockDiag) {
      try {
        return { sockets: this.sockDiag.dump(pid === null ? {} : { netnsPath: `/proc/${pid}/ns/net` }), skipped: 0 };
      } catch (err) {
        // Entering another namespace needs CAP_SYS_ADMIN; /proc/<pid>/net shows the same tables without it.
        if (pid === null) throw err;
      }
    }
    const base = pid === null ? '/proc/net' : `/proc/${pid}/net`;
    const sockets: RawSocket[] = [];
    let skipped = 0;
    let readAny = false;
    for (const [file, transport, family] of TABLES) {
      const text = this.reader.readText(`${base}/${file}`);
      if (text === null) continue; // no IPv6 in this kernel, or the process just exited
      readAny = true;
      const t = parseSocketTable(text, transport, family);
      for (const s of t.sockets) sockets.push(s);
      skipped += t.skipped;
    }
    if (!readAny && pid === null) {
      throw new SockhuntError('SOCKHUNT_E_COLLECT', `${base}/tcp cannot be read`);
    }
    return { sockets, skipped };
  }

  /** The owner's user; without an owner, the socket's uid (meaningless for inode-0 sockets such as TIME_WAIT). */
  private userOf(owner: ProcessInfo | null, s: RawSocket): Connection['user'] {
    if (owner && owner.uid !== null) return { name: owner.userName, id: String(owner.uid) };
    if (s.inode === 0 || s.uid === null) return { name: null, id: null };
    return { name: this.processes.userName(s.uid), id: String(s.uid) };
  }

  private toRow(
    s: RawSocket,
    ownerPids: number[],
    listeners: ListenerIndex,
    timestamp: string,
    netns: string | null,
    containerId: string | null,
    shared: SampleShared,
  ): Connection {
    const owner = ownerPids.length > 0 ? this.processes.info(ownerPids[0]!) : null;
    let parts = owner ? shared.byOwner.get(owner.pid) : undefined;
    if (!parts) {
      const process: Connection['process'] = {
        pid: owner ? owner.pid : null,
        name: owner?.name ?? null,
        executable: owner?.executable ?? null,
        command_line: owner?.commandLine ?? null,
        parent: { pid: owner?.ppid ?? null, name: owner?.parentName ?? null },
      };
      if (owner?.executableDeleted) process.executable_deleted = true;
      if (owner?.startTime != null) process.start_time = owner.startTime;
      parts = { process, user: this.userOf(owner, s) };
      if (owner) shared.byOwner.set(owner.pid, parts);
    }
    const row: Connection = {
      '@timestamp': timestamp,
      host: shared.host,
      process: parts.process,
      user: parts.user,
      source: { ip: s.localIp, port: s.localPort },
      destination: { ip: s.remoteIp, port: s.remotePort },
      network: { transport: s.transport, type: ipType(s.localIp) },
      socket: { state: s.state, inode: s.inode, family: s.family, owner_pids: ownerPids },
    };
    const direction = directionOf(s, listeners);
    if (direction) row.network.direction = direction;
    if (netns !== null) row.socket.netns = netns;
    if (s.timerMs !== undefined) row.socket.timer_ms = s.timerMs;
    if (containerId) row.container = { id: containerId };
    return row;
  }
}

interface SampleShared {
  host: Connection['host'];
  byOwner: Map<number, { process: Connection['process']; user: Connection['user'] }>;
}

export function createLinuxCollector(options?: LinuxCollectorOptions): LinuxCollector {
  return new LinuxCollector(options);
}
