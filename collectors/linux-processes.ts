// Facts about socket-owning processes, read from /proc and cached per pid. A cached entry is checked against
// /proc/<pid>/stat each sample: a changed start time means the pid was reused, a changed comm means an exec.
import { basename } from 'node:path';
import type { ProcessInfo } from './types.js';
import { type ProcReader, type ProcStat, parseCmdline, parsePasswd, parseStat, parseStatusUid } from './procfs.js';

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ, fixed at 100 on every Linux architecture Node runs on
const PASSWD_RELOAD_MS = 30_000;
const COMM_LENGTH = 15;

interface StatReading {
  stat: ProcStat | null;
  generation: number;
  at: number;
  prevTicks: number | null;
  prevAt: number | null;
}

export class ProcessCache {
  private readonly stats = new Map<number, StatReading>();
  private readonly infos = new Map<number, ProcessInfo>();
  private generation = 0;
  private users = new Map<number, string>();
  private usersLoadedAt = -Infinity;

  constructor(private readonly reader: ProcReader) {}

  /** Starts a new sample: stat readings are then re-read once on first use. */
  beginSample(): void {
    this.generation++;
  }

  stat(pid: number): ProcStat | null {
    const now = Date.now();
    const r = this.stats.get(pid);
    if (r && r.generation === this.generation) return r.stat;
    const text = this.reader.readText(`/proc/${pid}/stat`);
    const stat = text ? parseStat(text) : null;
    const sameProcess = r?.stat && stat && r.stat.startTime === stat.startTime;
    this.stats.set(pid, {
      stat,
      generation: this.generation,
      at: now,
      prevTicks: sameProcess ? r.stat!.cpuTicks : null,
      prevAt: sameProcess ? r.at : null,
    });
    return stat;
  }

  startTime(pid: number): number | null {
    return this.stat(pid)?.startTime ?? null;
  }

  parent(pid: number): number | null {
    return this.stat(pid)?.ppid ?? null;
  }

  info(pid: number): ProcessInfo {
    const stat = this.stat(pid);
    const cached = this.infos.get(pid);
    if (cached && stat && cached.startTime === stat.startTime && cached.comm === stat.comm) return cached;
    const info = this.readInfo(pid, stat);
    this.infos.set(pid, info);
    return info;
  }

  /** Drops what is cached for pids that no longer exist. */
  retain(pids: Set<number>): void {
    for (const pid of this.stats.keys()) if (!pids.has(pid)) this.stats.delete(pid);
    for (const pid of this.infos.keys()) if (!pids.has(pid)) this.infos.delete(pid);
  }

  /** % of one core used by each process read in this sample, since its previous reading. */
  cpuPercent(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [pid, r] of this.stats) {
      if (r.generation !== this.generation || !r.stat || r.prevTicks === null || r.prevAt === null) continue;
      const seconds = (r.at - r.prevAt) / 1000;
      if (seconds <= 0) continue;
      out.set(pid, ((r.stat.cpuTicks - r.prevTicks) / CLOCK_TICKS_PER_SECOND / seconds) * 100);
    }
    return out;
  }

  private readInfo(pid: number, stat: ProcStat | null): ProcessInfo {
    const base = `/proc/${pid}`;
    let exe = this.reader.readlink(`${base}/exe`);
    let deleted = false;
    if (exe?.endsWith(' (deleted)')) {
      deleted = true;
      exe = exe.slice(0, -' (deleted)'.length);
    }
    const cmdText = this.reader.readText(`${base}/cmdline`);
    const cmd = cmdText ? parseCmdline(cmdText) : null;
    const statusText = this.reader.readText(`${base}/status`);
    const uid = statusText ? parseStatusUid(statusText) : this.reader.ownerUid(base);
    const comm = stat?.comm ?? this.reader.readText(`${base}/comm`)?.replace(/\n$/, '') ?? null;
    const ppid = stat?.ppid ?? null;
    return {
      pid,
      name: fullName(comm, exe, cmd?.argv[0] ?? null),
      comm,
      executable: exe,
      executableDeleted: deleted,
      commandLine: cmd?.line ?? null,
      uid,
      userName: uid === null ? null : this.userName(uid),
      ppid,
      parentName: ppid ? (this.stat(ppid)?.comm ?? null) : null,
      startTime: stat?.startTime ?? null,
    };
  }

  userName(uid: number): string | null {
    const now = Date.now();
    if (!this.users.has(uid) && now - this.usersLoadedAt > PASSWD_RELOAD_MS) {
      const text = this.reader.readText('/etc/passwd');
      if (text) this.users = parsePasswd(text);
      this.usersLoadedAt = now;
    }
    return this.users.get(uid) ?? null;
  }
}

/** comm is cut at 15 bytes: prefer the executable's or argv[0]'s base name when it extends comm. */
export function fullName(comm: string | null, exe: string | null, argv0: string | null): string {
  if (comm !== null && comm.length < COMM_LENGTH) return comm;
  const candidates = [exe ? basename(exe) : null, argv0 ? basename(argv0) : null];
  if (comm === null) return candidates.find((c) => c) ?? '?';
  return candidates.find((c) => c && c.length > comm.length && c.startsWith(comm)) ?? comm;
}
