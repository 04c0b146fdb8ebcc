// Socket inode → owning pids, from /proc/<pid>/fd links, cached so that a steady system does not rescan every
// process every sample. Unknown inodes are searched for in likely processes first and the search stops as soon
// as every one is found; inodes that no readable process holds are remembered and retried with backoff.
import type { ProcReader } from './procfs.js';
import { parseSocketLink } from './procfs.js';

const RECENT_OWNERS_CAP = 64;
const ORPHAN_RETRY_MIN_MS = 5_000;
const ORPHAN_RETRY_MAX_MS = 600_000;

interface ScannedPid {
  startTime: number | null;
  inodes: Set<number>;
}

export interface OwnerHints {
  /** Start time of a live pid (null when unreadable): detects pid reuse. */
  startTime(pid: number): number | null;
  /** Parent pid, to find the older holder of a socket inherited by a new child. */
  parent(pid: number): number | null;
  /** Socket uid by inode (from the kernel table), to search that uid's processes first. */
  uidOf(inode: number): number | null;
}

export class OwnerIndex {
  private readonly owners = new Map<number, Set<number>>();
  /** inode → owners sorted oldest first, valid until that inode's owner set changes. */
  private readonly lists = new Map<number, number[]>();
  private readonly scanned = new Map<number, ScannedPid>();
  private knownPids = new Set<number>();
  private recentOwners: number[] = [];
  private readonly orphans = new Map<number, { retryAt: number; backoff: number }>();
  /** fd directories read in the last resolve (for benchmarks and tests). */
  lastScans = 0;

  constructor(private readonly reader: ProcReader) {}

  /** Returns inode → owner pids (oldest process first) for the inodes of this sample. */
  resolve(inodes: number[], pids: Set<number>, hints: OwnerHints, now = Date.now()): Map<number, number[]> {
    this.lastScans = 0;
    this.forgetDeadAndReused(pids, hints);
    const present = new Set(inodes);

    const unknown = new Set<number>();
    for (const inode of present) {
      if (this.owners.get(inode)?.size) continue;
      const orphan = this.orphans.get(inode);
      if (orphan && orphan.retryAt > now) continue;
      unknown.add(inode);
    }

    const done = new Set<number>();
    const scan = (pid: number): void => {
      if (done.has(pid) || !pids.has(pid)) return;
      done.add(pid);
      const found = this.scanPid(pid, hints);
      let gotNew = false;
      for (const inode of found) if (unknown.delete(inode)) gotNew = true;
      if (gotNew) this.noteRecentOwner(pid);
    };

    // New processes are always read: a child that inherited a socket is only ever found this way.
    for (const pid of pids) {
      if (this.knownPids.has(pid)) continue;
      scan(pid);
      const parent = hints.parent(pid);
      if (parent !== null && this.scanned.get(pid)?.inodes.size) scan(parent);
    }
    if (unknown.size > 0) {
      for (const pid of [...this.recentOwners]) {
        if (unknown.size === 0) break;
        scan(pid);
      }
    }
    if (unknown.size > 0) {
      const uids = new Set<number>();
      for (const inode of unknown) {
        const uid = hints.uidOf(inode);
        if (uid !== null) uids.add(uid);
      }
      for (const pid of pids) {
        if (unknown.size === 0) break;
        if (done.has(pid)) continue;
        const uid = this.reader.ownerUid(`/proc/${pid}`);
        if (uid !== null && uids.has(uid)) scan(pid);
      }
    }
    for (const pid of pids) {
      if (unknown.size === 0) break;
      scan(pid);
    }
    for (const inode of unknown) {
      const prev = this.orphans.get(inode);
      const backoff = prev ? Math.min(prev.backoff * 2, ORPHAN_RETRY_MAX_MS) : ORPHAN_RETRY_MIN_MS;
      this.orphans.set(inode, { retryAt: now + backoff, backoff });
    }

    this.knownPids = pids;
    for (const inode of this.owners.keys()) if (!present.has(inode)) {
      this.owners.delete(inode);
      this.lists.delete(inode);
    }
    for (const inode of this.orphans.keys()) if (!present.has(inode) || this.owners.get(inode)?.size) this.orphans.delete(inode);

    const result = new Map<number, number[]>();
    for (const inode of present) {
      let list = this.lists.get(inode);
      if (!list) {
        const set = this.owners.get(inode);
        if (!set || set.size === 0) continue;
        list = [...set];
        if (list.length > 1) {
          list.sort((a, b) => (hints.startTime(a) ?? Infinity) - (hints.startTime(b) ?? Infinity) || a - b);
        }
        this.lists.set(inode, list);
      }
      result.set(inode, list);
    }
    return result;
  }

  private forgetDeadAndReused(pids: Set<number>, hints: OwnerHints): void {
    for (const [pid, entry] of this.scanned) {
      // Only socket holders are re-validated (one stat read each): a socketless pid costs nothing while steady.
      if (pids.has(pid) && (entry.inodes.size === 0 || entry.startTime === hints.startTime(pid))) continue;
      this.forgetPid(pid, entry);
      // A reused pid is a new process: read it again.
      if (pids.has(pid)) this.knownPids.delete(pid);
    }
  }

  private forgetPid(pid: number, entry: ScannedPid): void {
    for (const inode of entry.inodes) {
      this.owners.get(inode)?.delete(pid);
      this.lists.delete(inode);
    }
    this.scanned.delete(pid);
  }

  private scanPid(pid: number, hints: OwnerHints): Set<number> {
    this.lastScans++;
    const inodes = new Set<number>();
    const fds = this.reader.readdir(`/proc/${pid}/fd`);
    const previous = this.scanned.get(pid);
    if (previous) this.forgetPid(pid, previous);
    if (fds === null) return inodes; // exited, or not ours to read: its sockets stay unowned, never guessed
    for (const fd of fds) {
      const link = this.reader.readlink(`/proc/${pid}/fd/${fd}`);
      if (link === null) continue;
      const inode = parseSocketLink(link);
      if (inode === null) continue;
      inodes.add(inode);
      this.lists.delete(inode);
      let set = this.owners.get(inode);
      if (!set) this.owners.set(inode, (set = new Set()));
      set.add(pid);
    }
    this.scanned.set(pid, { startTime: hints.startTime(pid), inodes });
    return inodes;
  }

  private noteRecentOwner(pid: number): void {
    this.recentOwners = [pid, ...this.recentOwners.filter((p) => p !== pid)].slice(0, RECENT_OWNERS_CAP);
  }
}
