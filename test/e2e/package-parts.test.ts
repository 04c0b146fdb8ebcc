// The parts of the single binary that can be tested without building it: the addon cache and loader (with the
// real better-sqlite3 addon from node_modules standing in for the SEA asset), the libc and noexec checks, and
// the config file `sockhunt install` writes.
import { describe, expect, it, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { parse as parseYaml } from 'yaml';
import { AddonLoader, type AddonAsset, addonCacheDir, cachedFileName, commandNeedsAddons } from '../../package/addons.js';
import { compareVersions, glibcxxFromLibstdcxxPath, libcShortfall, detectLibcRuntime } from '../../package/libc.js';
import { mountOf, noexecMountOf, parseMountInfo } from '../../package/mounts.js';
import { renderDefaultConfig } from '../../package/config-template.js';
import { ConfigSchema, loadConfig, parseConfig } from '../../agent/config.js';
import { configureDetectors } from '../../agent/detect/index.js';
import { nativeSqliteBinding, setNativeSqliteProvider } from '../../core/native.js';
import { openAgentDb } from '../../store/agent/db.js';
import { tempDir } from '../support/tmp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const sqliteAddon = join(dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
const isRoot = process.getuid?.() === 0;
const tmp = tempDir('sockhunt-package-');
const scratch = tmp.dir;
afterAll(() => tmp.remove());

function assetOf(file: string, key: string): { asset: AddonAsset; bytes: Buffer } {
  const bytes = readFileSync(file);
  return {
    bytes,
    asset: { key, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, glibc: '2.34', glibcxx: '3.4.29' },
  };
}

function loaderIn(dir: string, bytes: Buffer, extra: Partial<ConstructorParameters<typeof AddonLoader>[0]> = {}) {
  let reads = 0;
  const loader = new AddonLoader({
    dir,
    readAsset: () => {
      reads++;
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
    libcRuntime: () => ({ glibc: '2.36', glibcxx: '3.4.30' }),
    ...extra,
  });
  return { loader, reads: () => reads };
}

describe('addon cache', () => {
  const { asset, bytes } = assetOf(sqliteAddon, 'better_sqlite3.node');

  it('writes the addon once under its sha256, private, and loads it as better-sqlite3 nativeBinding', () => {
    const dir = join(scratch, 'cache1', 'addons');
    const first = loaderIn(dir, bytes);
    const mod = first.loader.load(asset);
    const file = join(dir, cachedFileName(asset));
    expect(cachedFileName(asset)).toBe(`better_sqlite3-${asset.sha256}.node`);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o500);
    expect(readdirSync(dir)).toEqual([cachedFileName(asset)]); // no temp file left behind
    const db = new Database(':memory:', { nativeBinding: mod as unknown as string });
    expect(db.prepare('SELECT sqlite_version() AS v').get()).toMatchObject({ v: expect.any(String) });
    db.close();
    // A second process (a new loader) finds it in place and does not write it again.
    const before = statSync(file);
    const second = loaderIn(dir, bytes);
    second.loader.load(asset);
    expect(second.reads()).toBe(0);
    expect(statSync(file).ino).toBe(before.ino);
  });

  it('replaces a damaged copy and removes copies of other builds', () => {
    const dir = join(scratch, 'cache2');
    mkdirSync(dir, { mode: 0o700 });
    const file = join(dir, cachedFileName(asset));
    writeFileSync(file, 'not an addon');
    const stale = join(dir, `better_sqlite3-${'0'.repeat(64)}.node`);
    writeFileSync(stale, 'old');
    const l = loaderIn(dir, bytes);
    l.loader.load(asset);
    expect(l.reads()).toBe(1);
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(asset.sha256);
    expect(readdirSync(dir)).toEqual([cachedFileName(asset)]);
  });

  it('refuses a cache directory others can write to, naming SOCKHUNT_ADDON_DIR', () => {
    const dir = join(scratch, 'cache3');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    expect(() => loaderIn(dir, bytes).loader.load(asset)).toThrow(expect.objectContaining({ code: 'SOCKHUNT_E_ADDON', message: expect.stringContaining('SOCKHUNT_ADDON_DIR') }));
  });

  it('says which glibc is needed instead of handing the loader a file it rejects', () => {
    const dir = join(scratch, 'cache4');
    const l = loaderIn(dir, bytes, { libcRuntime: () => ({ glibc: '2.31', glibcxx: '3.4.28' }) });
    expect(() => l.loader.load(asset)).toThrow(
      expect.objectContaining({ code: 'SOCKHUNT_E_ADDON', message: expect.stringMatching(/glibc 2\.34 or later, this system has 2\.31.*GLIBCXX_3\.4\.29/) }),
    );
    expect(l.reads()).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses an asset whose bytes do not match the recorded sha256', () => {
    const l = loaderIn(join(scratch, 'cache5'), Buffer.from('tampered'));
    expect(() => l.loader.load(asset)).toThrow(expect.objectContaining({ code: 'SOCKHUNT_E_ADDON', message: expect.stringContaining('damaged') }));
  });

  it.runIf(isRoot && process.platform === 'linux')('names SOCKHUNT_ADDON_DIR when the cache is on a noexec mount', () => {
    // A private mount namespace: the noexec tmpfs disappears with the child.
    const dir = join(scratch, 'noexec');
    mkdirSync(dir);
    const script = `
      import { AddonLoader } from './package/addons.ts';
      import { readFileSync } from 'node:fs';
      const bytes = readFileSync(${JSON.stringify(sqliteAddon)});
      const asset = ${JSON.stringify(asset)};
      try { new AddonLoader({ dir: ${JSON.stringify(dir)}, readAsset: () => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) }).load(asset); console.log('loaded'); }
      catch (err) { console.log(err.code + ' ' + err.message); }`;
    const r = spawnSync(
      'unshare',
      ['--mount', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o noexec,mode=0700 sockhunt-noexec "${dir}" && exec "${process.execPath}" --import tsx --input-type=module -e "$0"`, script],
      { cwd: root, encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^SOCKHUNT_E_ADDON .*is mounted noexec; set SOCKHUNT_ADDON_DIR/);
  });

  it('defaults to <state dir>/addons, SOCKHUNT_ADDON_DIR overriding', () => {
    expect(addonCacheDir({ SOCKHUNT_HOME: '/x/state' })).toBe('/x/state/addons');
    expect(addonCacheDir({ SOCKHUNT_HOME: '/x/state', SOCKHUNT_ADDON_DIR: '/opt/sh' })).toBe('/opt/sh');
  });

  it('leaves help, version, install and uninstall free of native code', () => {
    for (const argv of [[], ['--version'], ['-V'], ['help'], ['install', '--root', '/x'], ['uninstall'], ['hunt', '--help'], ['snapshot', '-h']]) {
      expect(commandNeedsAddons(argv), argv.join(' ')).toBe(false);
    }
    for (const argv of [['snapshot'], ['hunt', '--for', '1s'], ['baseline', 'show']]) expect(commandNeedsAddons(argv)).toBe(true);
  });

  it('lets store/agent/db.ts open databases through a registered provider (as inside the binary)', () => {
    const l = loaderIn(join(scratch, 'cache6'), bytes);
    let calls = 0;
    setNativeSqliteProvider(() => {
      calls++;
      return l.loader.load(asset);
    });
    try {
      const db = openAgentDb(join(scratch, 'provider', 'agent.db'));
      expect(db.schemaVersion()).toBeGreaterThan(0);
      db.close();
      expect(calls).toBe(1);
    } finally {
      setNativeSqliteProvider(undefined);
    }
    expect(nativeSqliteBinding()).toBeUndefined();
  });
});

describe('libc checks', () => {
  it('compares versions numerically', () => {
    expect(compareVersions('2.34', '2.4')).toBeGreaterThan(0);
    expect(compareVersions('2.34', '2.34.0')).toBe(0);
    expect(compareVersions('3.4.9', '3.4.29')).toBeLessThan(0);
  });

  it('reads the GLIBCXX level from the libstdc++ file name', () => {
    expect(glibcxxFromLibstdcxxPath('/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30')).toBe('3.4.30');
    expect(glibcxxFromLibstdcxxPath('/usr/lib/libstdc++.so.6')).toBeNull();
  });

  it('describes what is missing, or nothing', () => {
    const need = { glibc: '2.34', glibcxx: '3.4.29' };
    expect(libcShortfall(need, { glibc: '2.36', glibcxx: '3.4.30' })).toBeNull();
    expect(libcShortfall(need, { glibc: '2.36', glibcxx: null })).toBeNull();
    expect(libcShortfall(need, { glibc: '2.28', glibcxx: '3.4.25' })).toMatch(/glibc 2\.34 or later, this system has 2\.28; and libstdc\+\+ with GLIBCXX_3\.4\.29 \(GCC 11/);
    expect(libcShortfall(need, { glibc: null, glibcxx: null })).toMatch(/does not run on glibc/);
  });

  it.runIf(process.platform === 'linux')('detects this host', () => {
    const rt = detectLibcRuntime();
    expect(rt.glibc).toMatch(/^2\.\d+$/);
    expect(rt.glibcxx === null || /^3\.4\.\d+$/.test(rt.glibcxx)).toBe(true);
  });
});

describe('noexec detection', () => {
  const info = [
    '22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '23 22 0:21 / /tmp rw,nosuid,nodev,noexec shared:2 - tmpfs tmpfs rw',
    '24 23 0:22 / /tmp/ok\\040dir rw,nosuid shared:3 - tmpfs tmpfs rw',
  ].join('\n');

  it('parses mountinfo and finds the innermost mount', () => {
    const mounts = parseMountInfo(info);
    expect(mounts.map((m) => m.mountPoint)).toEqual(['/', '/tmp', '/tmp/ok dir']);
    expect(mountOf('/tmp/x/y', mounts)?.mountPoint).toBe('/tmp');
    expect(mountOf('/tmp/ok dir/a', mounts)?.mountPoint).toBe('/tmp/ok dir');
    expect(mountOf('/tmpfoo', mounts)?.mountPoint).toBe('/');
  });

  it('tells a noexec directory', () => {
    expect(noexecMountOf('/tmp', info)).toBe('/tmp');
    expect(noexecMountOf('/', info)).toBeNull();
  });
});

describe('the config file install writes', () => {
  const text = renderDefaultConfig('sockhunt 0.0.0 (test)');
  /** sshd_config style: `#key: value` and `#  nested: value` are settings, `# text` is prose. */
  const uncommented = text
    .split('\n')
    .map((line) => (/^#(?! )/.test(line) || line.startsWith('#  ') ? line.slice(1) : line))
    .join('\n');

  it('is all comments: loading it gives the defaults', () => {
    const file = join(scratch, 'sockhunt.yaml');
    writeFileSync(file, text);
    expect(loadConfig(file).config).toEqual(parseConfig({}));
  });

  it('shows every setting with its default value', () => {
    const value = parseYaml(uncommented) as Record<string, unknown>;
    expect(Object.keys(value).sort()).toEqual(Object.keys(ConfigSchema.shape).sort());
    // detectors: kept as written by the schema, resolved (and checked) by the registry
    expect({ ...parseConfig(value), detectors: {} }).toEqual(parseConfig({}));
    const shown = configureDetectors(value.detectors).map((d) => [d.detector.spec.id, d.params]);
    const defaults = configureDetectors({}).map((d) => [d.detector.spec.id, d.params]);
    expect(shown).toEqual(defaults);
  });
});
