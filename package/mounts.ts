// Is a directory on a filesystem mounted noexec? The addon cache must not be: `dlopen` maps the file executable,
// which a noexec mount refuses with a bare "failed to map segment from shared object: Operation not permitted".
import { readFileSync, realpathSync } from 'node:fs';

export interface MountEntry {
  mountPoint: string;
  /** Per-mount options (`rw`, `noexec`, `nosuid`, …). */
  options: string[];
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses /proc/self/mountinfo (proc(5)): field 5 is the mount point, field 6 the per-mount options. */
export function parseMountInfo(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 7 || fields[4] === undefined || fields[5] === undefined) continue;
    mounts.push({ mountPoint: unescapeMount(fields[4]), options: fields[5].split(',') });
  }
  return mounts;
}

/** The mount that holds `path` (an absolute, symlink-free path): the last-mounted longest prefix. */
export function mountOf(path: string, mounts: readonly MountEntry[]): MountEntry | null {
  let best: MountEntry | null = null;
  for (const m of mounts) {
    const prefix = m.mountPoint.endsWith('/') ? m.mountPoint : `${m.mountPoint}/`;
    const holds = path === m.mountPoint || path.startsWith(prefix) || m.mountPoint === '/';
    // Later lines are mounted later: an equally long match on top of another hides it.
    if (holds && (best === null || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** The noexec mount point holding `dir`, or null when it is not noexec (or this cannot be told, e.g. not Linux). */
export function noexecMountOf(dir: string, mountInfoText?: string): string | null {
  try {
    const mounts = parseMountInfo(mountInfoText ?? readFileSync('/proc/self/mountinfo', 'utf8'));
    const mount = mountOf(realpathSync(dir), mounts);
    return mount?.options.includes('noexec') ? mount.mountPoint : null;
  } catch {
    return null;
  }
}
