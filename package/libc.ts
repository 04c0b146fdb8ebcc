// Which C and C++ runtime this process runs on, and whether an addon's needs are met — so that the single
// binary can say "needs glibc 2.34, this system has 2.31" instead of passing on the dynamic loader's message.
import { realpathSync } from 'node:fs';

export interface LibcRuntime {
  /** glibc version (`2.36`), or null when the process does not run on glibc (musl) or it cannot be told. */
  glibc: string | null;
  /** Highest `GLIBCXX_` version the loaded libstdc++ provides (`3.4.30`), or null when it cannot be told. */
  glibcxx: string | null;
}

/** Versions an addon was linked against: the highest `GLIBC_` and `GLIBCXX_` symbol versions it references. */
export interface LibcRequirement {
  glibc: string | null;
  glibcxx: string | null;
}

interface ReportShape {
  header?: { glibcVersionRuntime?: string };
  sharedObjects?: string[];
}

/** Compares dotted numeric versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * libstdc++.so.6.0.N provides GLIBCXX_3.4.N for every N from 20 (GCC 4.9) on; older files, or names that
 * do not end in the full version, tell nothing.
 */
export function glibcxxFromLibstdcxxPath(path: string): string | null {
  const m = /libstdc\+\+\.so\.6\.0\.(\d+)$/.exec(path);
  if (!m) return null;
  const n = Number(m[1]);
  return n >= 20 ? `3.4.${n}` : null;
}

/** Reads the runtime versions from Node's diagnostic report (about 5 ms, so only when it matters). */
export function detectLibcRuntime(): LibcRuntime {
  let report: ReportShape;
  try {
    report = (process.report?.getReport() ?? {}) as ReportShape;
  } catch {
    return { glibc: null, glibcxx: null };
  }
  const glibc = report.header?.glibcVersionRuntime ?? null;
  let glibcxx: string | null = null;
  const lib = report.sharedObjects?.find((p) => /\/libstdc\+\+\.so\.6[.\d]*$/.test(p));
  if (lib) {
    try {
      glibcxx = glibcxxFromLibstdcxxPath(realpathSync(lib));
    } catch {
      // the file went away or is unreadable: unknown
    }
  }
  return { glibc, glibcxx };
}

/** What is missing for `need` on `have`, as a sentence, or null when nothing is known to be missing. */
export function libcShortfall(need: LibcRequirement, have: LibcRuntime): string | null {
  const missing: string[] = [];
  if (need.glibc) {
    if (have.glibc === null) missing.push(`glibc ${need.glibc} or later, and this system does not run on glibc (musl, e.g. Alpine?)`);
    else if (compareVersions(have.glibc, need.glibc) < 0) missing.push(`glibc ${need.glibc} or later, this system has ${have.glibc}`);
  }
  if (need.glibcxx && have.glibcxx !== null && compareVersions(have.glibcxx, need.glibcxx) < 0) {
    missing.push(`libstdc++ with GLIBCXX_${need.glibcxx} (GCC ${gccOf(need.glibcxx)} or later), this system's provides GLIBCXX_${have.glibcxx}`);
  }
  return missing.length > 0 ? missing.join('; and ') : null;
}

function gccOf(glibcxx: string): string {
  const n = Number(glibcxx.split('.')[2] ?? 0);
  // 3.4.29 is GCC 11, 3.4.30 GCC 12, 3.4.31/32 GCC 13; close enough to point a reader at the right toolchain.
  const table: Record<number, string> = { 25: '8', 26: '9', 27: '9.2', 28: '10', 29: '11', 30: '12', 31: '13', 32: '13.2', 33: '14' };
  return table[n] ?? `with GLIBCXX_${glibcxx}`;
}
