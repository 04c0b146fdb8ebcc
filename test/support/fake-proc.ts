// An in-memory /proc for collector tests: files, directories and links, with a count of reads.
import type { ProcReader } from '../../collectors/procfs.js';

export class FakeProc implements ProcReader {
  files = new Map<string, string>();
  links = new Map<string, string>();
  uids = new Map<string, number>();
  reads = { readText: 0, readdir: 0, readlink: 0 };

  readText(path: string): string | null {
    this.reads.readText++;
    return this.files.get(path) ?? null;
  }
  readdir(path: string): string[] | null {
    this.reads.readdir++;
    const prefix = `${path}/`;
    const names = new Set<string>();
    for (const p of [...this.files.keys(), ...this.links.keys(), ...this.uids.keys()]) {
      if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split('/')[0]!);
    }
    if (names.size === 0 && !this.uids.has(path)) return null;
    return [...names];
  }
  readlink(path: string): string | null {
    this.reads.readlink++;
    return this.links.get(path) ?? null;
  }
  ownerUid(path: string): number | null {
    return this.uids.get(path) ?? null;
  }

  /** Adds a process with its socket fds. */
  addProcess(p: { pid: number; comm: string; ppid?: number; start?: number; uid?: number; exe?: string; cmdline?: string[]; sockets?: number[]; fdReadable?: boolean }): void {
    const base = `/proc/${p.pid}`;
    this.uids.set(base, p.uid ?? 0);
    this.files.set(`${base}/stat`, `${p.pid} (${p.comm}) S ${p.ppid ?? 1} ${p.pid} ${p.pid} 0 -1 0 0 0 0 0 10 5 0 0 20 0 1 0 ${p.start ?? 1000} 0 0`);
    this.files.set(`${base}/status`, `Name:\t${p.comm}\nUid:\t${p.uid ?? 0}\t${p.uid ?? 0}\t${p.uid ?? 0}\t${p.uid ?? 0}\n`);
    this.files.set(`${base}/cmdline`, p.cmdline ? `${p.cmdline.join('\0')}\0` : '');
    if (p.exe) this.links.set(`${base}/exe`, p.exe);
    this.links.set(`${base}/ns/net`, 'net:[4026531840]');
    if (p.fdReadable !== false) {
      this.links.set(`${base}/fd/0`, '/dev/null');
      (p.sockets ?? []).forEach((inode, i) => this.links.set(`${base}/fd/${i + 3}`, `socket:[${inode}]`));
    }
  }

  removeProcess(pid: number): void {
    const prefix = `/proc/${pid}/`;
    for (const m of [this.files, this.links] as Map<string, string>[]) for (const k of [...m.keys()]) if (k.startsWith(prefix)) m.delete(k);
    this.uids.delete(`/proc/${pid}`);
  }

  addSocketFd(pid: number, fd: number, inode: number): void {
    this.links.set(`/proc/${pid}/fd/${fd}`, `socket:[${inode}]`);
  }

  /** Sets /proc/net/tcp to these sockets (127.0.0.1:port → 192.0.2.1:443 ESTABLISHED, or LISTEN when port < 1024). */
  setTcp(sockets: Array<{ inode: number; port: number; uid?: number; listen?: boolean }>): void {
    const hex = (n: number, w: number): string => n.toString(16).toUpperCase().padStart(w, '0');
    const lines = sockets.map((s, i) => {
      const remote = s.listen ? '00000000:0000' : `010200C0:${hex(443, 4)}`;
      return `${String(i).padStart(4)}: 0100007F:${hex(s.port, 4)} ${remote} ${s.listen ? '0A' : '01'} 00000000:00000000 00:00000000 00000000 ${String(s.uid ?? 0).padStart(5)}        0 ${s.inode} 1 0000000000000000 20 0 0 10 -1`;
    });
    this.files.set('/proc/net/tcp', ['  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode', ...lines].join('\n') + '\n');
  }
}
