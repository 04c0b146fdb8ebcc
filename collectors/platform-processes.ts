// Process details for the non-Linux collectors: systeminformation's process list (`ps` on macOS/Linux,
// Win32_Process through PowerShell on Windows), mapped to ProcessInfo and cached by pid between samples.
import type { ProcessInfo } from './types.js';
import { baseName } from './platform-rows.js';

/** The fields of a systeminformation `processes().list` entry we read (all may be missing or odd). */
export interface SiProcess {
  pid?: unknown;
  parentPid?: unknown;
  name?: unknown;
  command?: unknown;
  params?: unknown;
  path?: unknown;
  user?: unknown;
}

function text(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const t = value.trim();
  return t === '' ? null : t;
}

function positiveInt(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : null;
}

/**
 * Maps one systeminformation process entry. On Windows `name` is Win32_Process.Caption, `path` the full
 * ExecutablePath and `command` the CommandLine (systeminformation puts the Caption there when CommandLine is empty).
 * On macOS/Linux systeminformation splits the `ps` command column: `path` is the directory, `command` the
 * file name (which may hold spaces on macOS, e.g. `Google Chrome`), `params` the rest.
 */
export function processInfoFromSi(p: SiProcess, platform: NodeJS.Platform): ProcessInfo | null {
  const pid = positiveInt(p.pid);
  if (pid === null) return null;
  const command = text(p.command);
  const dir = text(p.path);
  let name = text(p.name);
  let executable: string | null;
  let commandLine: string | null;
  if (platform === 'win32') {
    executable = dir;
    // No CommandLine (protected or system processes): systeminformation repeats the Caption; that is no command line.
    commandLine = command !== null && !(command === name && executable === null) ? command : null;
  } else {
    executable = dir !== null && command !== null ? `${dir}/${command}` : null;
    commandLine = [executable ?? command, text(p.params)].filter((s): s is string => s !== null).join(' ') || null;
    if (name === null) name = baseName(command);
  }
  if (name === null) name = baseName(executable);
  if (name === null) return null;
  return {
    pid,
    name,
    comm: null,
    executable,
    executableDeleted: false,
    commandLine,
    uid: null,
    userName: text(p.user),
    ppid: positiveInt(p.parentPid),
    parentName: null,
    startTime: null,
  };
}

/**
 * Maps a whole list and fills in parent names. A pid listed twice is ambiguous (a `ps` line forged by a command
 * line holding a newline would look like that): it gets no details at all rather than possibly wrong ones.
 */
export function processTableFromSi(list: readonly SiProcess[], platform: NodeJS.Platform): Map<number, ProcessInfo> {
  const table = new Map<number, ProcessInfo>();
  const ambiguous = new Set<number>();
  for (const entry of list) {
    const info = processInfoFromSi(entry, platform);
    if (!info) continue;
    if (table.has(info.pid)) ambiguous.add(info.pid);
    table.set(info.pid, info);
  }
  for (const pid of ambiguous) table.delete(pid);
  for (const info of table.values()) {
    if (info.ppid !== null) info.parentName = table.get(info.ppid)?.name ?? null;
  }
  return table;
}

/** Settles like `work`, or rejects after `ms` (the libraries have no timeouts of their own: a hung tool hangs them). */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

export interface ProcessTableOptions {
  /** Lists processes (systeminformation's `processes()`); injected by tests. */
  list: () => Promise<{ list?: readonly SiProcess[] } | null | undefined>;
  platform: NodeJS.Platform;
  /** Re-list when the cache is older than this even if every pid is known (pids get reused). Default 60 s. */
  maxAgeMs?: number;
  /** Never re-list more often than this, even for unknown pids (they may be gone already). Default 2 s. */
  minIntervalMs?: number;
  /** Give up on one listing after this long and keep the previous one. Default 30 s. */
  listTimeoutMs?: number;
  now?: () => number;
}

/** pid → ProcessInfo, re-listed when a sample shows a pid the cache does not know, or when it gets old. */
export class ProcessTable {
  private table = new Map<number, ProcessInfo>();
  private listedAt = Number.NEGATIVE_INFINITY;
  /** Why the last listing failed, if it did; the rows then keep their pids with null details. */
  lastError: unknown = null;

  constructor(private readonly options: ProcessTableOptions) {}

  async resolve(pids: Iterable<number>): Promise<ReadonlyMap<number, ProcessInfo>> {
    const now = (this.options.now ?? Date.now)();
    const age = now - this.listedAt;
    let unknown = false;
    for (const pid of pids) if (!this.table.has(pid)) unknown = true;
    const due = age >= (this.options.maxAgeMs ?? 60_000) || (unknown && age >= (this.options.minIntervalMs ?? 2_000));
    if (due) await this.refresh(now);
    return this.table;
  }

  private async refresh(now: number): Promise<void> {
    this.listedAt = now;
    try {
      const result = await withDeadline(this.options.list(), this.options.listTimeoutMs ?? 30_000, 'the process list');
      const list = Array.isArray(result?.list) ? result.list : [];
      // systeminformation reports a failed `ps`/PowerShell as an empty list: keep what we knew rather than nothing.
      if (list.length === 0) throw new Error('the process list came back empty');
      this.table = processTableFromSi(list, this.options.platform);
      this.lastError = null;
    } catch (err) {
      this.lastError = err;
    }
  }
}
