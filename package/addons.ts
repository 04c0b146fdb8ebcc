// Native addons inside the single binary: each one travels as a SEA asset, is written once to a cache directory
// under a name that carries its sha256 (temp file + rename, so no reader ever sees half a file), checked against
// that sha256 before every load, and `process.dlopen`-ed. Nothing here reads `node:sea`: the asset reader is
// handed in (package/sea-main.ts), so tests drive the same code with files from node_modules.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SockhuntError } from '../core/errors.js';
import { defaultStateDir } from '../core/paths.js';
import { type LibcRequirement, type LibcRuntime, detectLibcRuntime, libcShortfall } from './libc.js';
import { noexecMountOf } from './mounts.js';

/** One addon as scripts/package.mjs describes it in the binary (define SOCKHUNT_SEA_ADDONS). */
export interface AddonAsset extends LibcRequirement {
  /** SEA asset key and file name: `better_sqlite3.node`, `sockdiag.node`. */
  key: string;
  sha256: string;
  size: number;
}

export interface AddonManifest {
  sqlite: AddonAsset;
  /** Absent when the build host could not build the sock_diag addon: the collector reads /proc then. */
  sockdiag: AddonAsset | null;
}

export const ADDON_DIR_ENV = 'SOCKHUNT_ADDON_DIR';

/** `$SOCKHUNT_ADDON_DIR`, else `<state dir>/addons` (state dir as in core/paths.ts). */
export function addonCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env[ADDON_DIR_ENV];
  return explicit ? resolve(explicit) : join(defaultStateDir(env), 'addons');
}

const NO_ADDONS = new Set(['help', '--help', '-h', 'version', '--version', '-V', 'install', 'uninstall']);

/** Help, version, install and uninstall run without native code (and so without an addon cache). */
export function commandNeedsAddons(argv: readonly string[]): boolean {
  const [name] = argv;
  return name !== undefined && !NO_ADDONS.has(name) && !argv.includes('--help') && !argv.includes('-h');
}

/** `better_sqlite3.node` with sha256 abc… → `better_sqlite3-abc….node`. */
export function cachedFileName(asset: AddonAsset): string {
  return `${asset.key.replace(/\.node$/, '')}-${asset.sha256}.node`;
}

function addonError(message: string, cause?: unknown): SockhuntError {
  return new SockhuntError('SOCKHUNT_E_ADDON', message, cause === undefined ? undefined : { cause });
}

export interface AddonLoaderOptions {
  dir: string;
  /** The asset's bytes (`sea.getRawAsset`). */
  readAsset(key: string): ArrayBuffer;
  /** For tests; default: Node's diagnostic report. */
  libcRuntime?: () => LibcRuntime;
  /** For tests; default: /proc/self/mountinfo. */
  mountInfo?: () => string;
}

export class AddonLoader {
  private readonly loaded = new Map<string, object>();
  private dirChecked = false;
  private libc: LibcRuntime | undefined;

  constructor(private readonly options: AddonLoaderOptions) {}

  get dir(): string {
    return this.options.dir;
  }

  /** The addon's module exports, writing it out first when the cache lacks it. Throws SOCKHUNT_E_ADDON. */
  load(asset: AddonAsset): object {
    const done = this.loaded.get(asset.key);
    if (done) return done;
    const path = join(this.dir, cachedFileName(asset));
    this.checkDir();
    if (!fileMatches(path, asset)) {
      // Checked before the first write (and again if a load fails): a host too old for the addon is told so,
      // never handed a file the dynamic loader rejects.
      this.checkLibc(asset);
      this.write(asset, path);
    }
    const mod = { exports: {} as object };
    try {
      process.dlopen(mod, path);
    } catch (err) {
      throw this.explainLoadFailure(asset, path, err);
    }
    this.loaded.set(asset.key, mod.exports);
    return mod.exports;
  }

  private runtime(): LibcRuntime {
    this.libc ??= (this.options.libcRuntime ?? detectLibcRuntime)();
    return this.libc;
  }

  private checkLibc(asset: AddonAsset): void {
    if (process.platform !== 'linux') return;
    const short = libcShortfall(asset, this.runtime());
    if (short) throw addonError(`${asset.key} needs ${short}; this sockhunt binary supports Linux x64 with glibc ${asset.glibc ?? '?'} or later (see docs/packaging.md)`);
  }

  /** The cache directory must exist, and be ours and writable by us alone: what is loaded from it runs as us. */
  private checkDir(): void {
    if (this.dirChecked) return;
    const dir = this.dir;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw addonError(`cannot create the addon cache directory ${dir} (set ${ADDON_DIR_ENV} to a writable directory)`, err);
    }
    const st = statSync(dir);
    if (!st.isDirectory()) throw addonError(`the addon cache ${dir} is not a directory (set ${ADDON_DIR_ENV})`);
    const uid = process.geteuid?.();
    if (uid !== undefined && (st.uid !== uid || (st.mode & 0o022) !== 0)) {
      throw addonError(
        `the addon cache ${dir} must be owned by uid ${uid} and writable by nobody else (it is uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}); ` +
          `fix it or set ${ADDON_DIR_ENV} to a private directory`,
      );
    }
    this.dirChecked = true;
  }

  private write(asset: AddonAsset, path: string): void {
    const bytes = Buffer.from(this.options.readAsset(asset.key));
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== asset.sha256 || bytes.length !== asset.size) {
      throw addonError(`the binary's ${asset.key} asset does not match its recorded sha256 (the binary is damaged; rebuild or download it again)`);
    }
    const tmp = join(this.dir, `.${cachedFileName(asset)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const fd = openSync(tmp, 'wx', 0o500);
      try {
        for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // never created, or already renamed
      }
      throw addonError(`cannot write ${asset.key} to the addon cache ${this.dir} (set ${ADDON_DIR_ENV} to a writable directory)`, err);
    }
    removeStaleCopies(this.dir, asset);
  }

  private explainLoadFailure(asset: AddonAsset, path: string, err: unknown): SockhuntError {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
    const noexec = noexecMountOf(this.dir, this.options.mountInfo?.());
    if (noexec !== null) {
      return addonError(
        `cannot load ${path}: the addon cache ${this.dir} is on ${noexec}, which is mounted noexec; ` +
          `set ${ADDON_DIR_ENV} to a directory on a filesystem that allows executable mappings (e.g. under /var/lib or /opt)`,
        err,
      );
    }
    const short = process.platform === 'linux' ? libcShortfall(asset, this.runtime()) : null;
    if (short || /\bGLIBC(XX)?_[\d.]+' not found/.test(reason)) {
      return addonError(`cannot load ${asset.key}: it needs ${short ?? reason}; this sockhunt binary supports Linux x64 with glibc ${asset.glibc ?? '?'} or later`, err);
    }
    return addonError(`cannot load ${path}: ${reason}`, err);
  }
}

/** True when `path` holds exactly the asset (size, then sha256). */
function fileMatches(path: string, asset: AddonAsset): boolean {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return false;
  }
  return bytes.length === asset.size && createHash('sha256').update(bytes).digest('hex') === asset.sha256;
}

/** Copies of the same addon from earlier sockhunt builds: a running old binary has its copy mapped already. */
function removeStaleCopies(dir: string, asset: AddonAsset): void {
  const stem = asset.key.replace(/\.node$/, '');
  const current = cachedFileName(asset);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name === current || !name.startsWith(`${stem}-`) || !/-[0-9a-f]{64}\.node$/.test(name)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // another process removed it first, or it is not ours to remove: harmless either way
    }
  }
}
