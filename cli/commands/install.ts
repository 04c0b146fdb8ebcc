// `sockhunt install` and `sockhunt uninstall`: the single binary as a systemd service. Install copies the
// binary to PREFIX/bin/sockhunt, writes the unit (package/systemd-unit.ts) and, when absent, the config
// file with every default commented (package/config-template.ts). Uninstall removes the unit and the
// binary — the latter only when its sha256 is the one the unit recorded — and keeps the config and the state
// unless --purge. From the npm CLI there is no single binary to copy: install asks for --binary FILE.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { DEFAULT_CONFIG_PATH } from '../../agent/config.js';
import { SockhuntError } from '../../core/errors.js';
import { BUILD_COMMIT, BUILD_VERSION } from '../../package/build-info.js';
import { renderDefaultConfig } from '../../package/config-template.js';
import { singleBinaryPath } from '../../core/native.js';
import { AGENT_ENV_FILE, STATE_DIR, UNIT_MARKER, UNIT_NAME, recordedBinary, renderUnit } from '../../package/systemd-unit.js';
import type { Command, OptionSpec } from './command.js';

const DEFAULT_PREFIX = '/usr/local';
const UNIT_DIR = '/etc/systemd/system';
const WANTS_LINK = `${UNIT_DIR}/multi-user.target.wants/${UNIT_NAME}`;
const START_HINT = 'systemctl daemon-reload && systemctl enable --now sockhunt-agent';

/** Where things go on the target system, and where they are written (under --root). */
interface Layout {
  root: string;
  bin: string;
  unit: string;
  config: string;
  state: string;
  wants: string;
  /** The path on disk for a target-system path. */
  disk(path: string): string;
}

const LAYOUT_OPTIONS: Record<string, OptionSpec> = {
  prefix: { type: 'string', description: `installation prefix: the binary is PREFIX/bin/sockhunt (default ${DEFAULT_PREFIX})`, valueName: 'DIR' },
  root: { type: 'string', description: 'work on this directory as if it were / (staging an image; tests); needs no root', valueName: 'DIR' },
  'dry-run': { type: 'boolean', short: 'n', description: 'print what would be done, change nothing' },
};

function usage(message: string): SockhuntError {
  return new SockhuntError('SOCKHUNT_E_USAGE', message);
}

function failure(message: string, cause: unknown): SockhuntError {
  return new SockhuntError('SOCKHUNT_E_RUNTIME', message, { cause });
}

function layout(values: Record<string, unknown>): Layout {
  const prefix = (values.prefix as string | undefined) ?? DEFAULT_PREFIX;
  // The unit names the binary in ExecStart=: keep to characters that need no quoting there.
  if (!isAbsolute(prefix) || !/^[A-Za-z0-9._/+-]+$/.test(prefix)) {
    throw usage(`--prefix takes an absolute path of letters, digits and . _ - + /, not ${JSON.stringify(prefix)}`);
  }
  const root = values.root === undefined ? '/' : resolve(values.root as string);
  const norm = resolve(prefix);
  return {
    root,
    bin: join(norm, 'bin', 'sockhunt'),
    unit: join(UNIT_DIR, UNIT_NAME),
    config: DEFAULT_CONFIG_PATH,
    state: STATE_DIR,
    wants: WANTS_LINK,
    disk: (path) => (root === '/' ? path : join(root, path)),
  };
}

function requireRoot(command: string, values: Record<string, unknown>): void {
  if (values.root !== undefined || values['dry-run'] === true) return;
  const uid = process.geteuid?.();
  if (uid === undefined || uid === 0) return;
  throw usage(
    `sockhunt ${command} must run as root: it changes /usr/local/bin, ${UNIT_DIR} and /etc/sockhunt. ` +
      'Run it with sudo, or use --root DIR to stage the files into DIR, or --dry-run to see what it would do.',
  );
}

function requireLinux(command: string): void {
  if (process.platform !== 'linux') {
    throw new SockhuntError('SOCKHUNT_E_PLATFORM', `sockhunt ${command} sets up a systemd service: Linux only (this is ${process.platform})`);
  }
}

export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** The binary to install and who it says it is (`sockhunt 0.1.0 (abc1234)`). */
function sourceBinary(values: Record<string, unknown>): { path: string; identity: string } {
  if (typeof values.binary === 'string') {
    const path = resolve(values.binary);
    let st;
    try {
      st = statSync(path);
    } catch (err) {
      throw new SockhuntError('SOCKHUNT_E_INPUT', `--binary ${path}: cannot read it`, { cause: err });
    }
    if (!st.isFile()) throw new SockhuntError('SOCKHUNT_E_INPUT', `--binary ${path}: not a regular file`);
    // It runs here before it is installed: a binary that cannot start on this host (glibc, architecture) or is
    // not sockhunt never becomes a service. Without NODE_OPTIONS and the like, as the unit will run it.
    const r = spawnSync(path, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, timeout: 60_000 });
    const line = (r.stdout ?? '').split('\n')[0] ?? '';
    const m = /^(sockhunt \S+ \([^)]*\))/.exec(line);
    if (r.status !== 0 || !m) {
      const why = r.error ? r.error.message : `${(r.stderr ?? '').trim().split('\n')[0] || `exit ${r.status ?? r.signal}`}`;
      throw new SockhuntError('SOCKHUNT_E_INPUT', `--binary ${path} is not a working sockhunt binary on this host (\`--version\`: ${why})`);
    }
    return { path, identity: m[1]! };
  }
  const self = singleBinaryPath();
  if (self) return { path: self, identity: `sockhunt ${BUILD_VERSION} (${BUILD_COMMIT})` };
  throw usage(
    'this is the npm CLI (node bin/sockhunt.js); `sockhunt install` installs the single binary. Build it with ' +
      '`npm run package`, then run `sudo dist/sockhunt-linux-x64 install` (or pass --binary dist/sockhunt-linux-x64).',
  );
}

/** Writes `text` to `path` through a temp file and a rename, with exactly `mode`. */
function writeAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.sockhunt-${process.pid}.tmp`;
  try {
    writeFileSync(tmp, text, { mode });
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw failure(`cannot write ${path}`, err);
  }
}

function mkdirs(dir: string, mode = 0o755): void {
  try {
    mkdirSync(dir, { recursive: true, mode });
  } catch (err) {
    throw failure(`cannot create ${dir}`, err);
  }
}

function samePath(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

function copyBinary(src: string, dest: string): void {
  mkdirs(dirname(dest));
  // Copy beside the target, then rename: a running old binary keeps its inode, nobody sees half a file.
  const tmp = `${dest}.sockhunt-${process.pid}.tmp`;
  try {
    copyFileSync(src, tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, dest);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw failure(`cannot install the binary to ${dest}`, err);
  }
}

function systemdRunning(root: string): boolean {
  return root === '/' && existsSync('/run/systemd/system');
}

function systemctl(args: string[]): { ok: boolean; message: string } {
  const r = spawnSync('systemctl', args, { encoding: 'utf8', timeout: 120_000 });
  const message = (r.error?.message ?? `${r.stderr ?? ''}${r.stdout ?? ''}`).trim().split('\n')[0] ?? '';
  return { ok: r.status === 0, message };
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

function indent(text: string): string {
  return text.replace(/^/gm, '    ');
}

export const installCommand: Command = {
  name: 'install',
  summary: 'Install this binary as the systemd service sockhunt-agent (binary, unit, config file).',
  usage: 'sudo sockhunt install [--prefix /usr/local] [--root DIR] [--binary FILE] [--dry-run] [-- AGENT_OPTIONS…]\n' +
    `  AGENT_OPTIONS (e.g. --server wss://HOST:8700 --pin sha256/…) are added to the unit's \`sockhunt agent\` command line;\n` +
    `  the enroll secret belongs in ${AGENT_ENV_FILE} (SOCKHUNT_ENROLL_SECRET=…, mode 0600), not there.`,
  options: {
    ...LAYOUT_OPTIONS,
    binary: { type: 'string', description: 'the sockhunt binary to install (default: the running one; needed from the npm CLI)', valueName: 'FILE' },
  },
  async run(values, positionals, io) {
    requireLinux('install');
    requireRoot('install', values);
    const agentArgs = checkAgentArgs(positionals);
    const L = layout(values);
    const dry = values['dry-run'] === true;
    const src = sourceBinary(values);
    const binDisk = L.disk(L.bin);
    const sha256 = sha256File(src.path);
    const size = statSync(src.path).size;
    const unitText = renderUnit({ binPath: L.bin, configPath: L.config, binarySha256: sha256, installedBy: src.identity, agentArgs });
    const configDisk = L.disk(L.config);
    const configExists = existsSync(configDisk);
    const configText = renderDefaultConfig(src.identity);
    const inPlace = samePath(src.path, binDisk);
    const lines: string[] = [];
    const verb = dry ? 'would ' : '';

    // Binary first and unit last: at no point does the unit name a binary that is not there.
    if (inPlace) lines.push(`${binDisk}: already the binary being installed`);
    else {
      if (!dry) copyBinary(src.path, binDisk);
      lines.push(`${verb}install ${binDisk} (0755, ${mb(size)}, sha256 ${sha256.slice(0, 16)}…) from ${src.path}: ${src.identity}`);
    }
    if (configExists) lines.push(`kept ${configDisk} (it exists; install never overwrites it)`);
    else {
      if (!dry) {
        mkdirs(dirname(configDisk));
        writeAtomic(configDisk, configText, 0o600);
      }
      lines.push(`${verb}write ${configDisk} (0600): the agent's defaults, commented`);
      if (dry) lines.push(indent(configText));
    }
    if (!dry) {
      mkdirs(dirname(L.disk(L.unit)));
      writeAtomic(L.disk(L.unit), unitText, 0o644);
    }
    lines.push(`${verb}write ${L.disk(L.unit)} (0644)${dry ? ':' : ''}`);
    if (dry) lines.push(indent(unitText));

    if (L.root !== '/') lines.push(`staged under ${L.root}; on the system that boots it, start the agent with:`);
    else if (!systemdRunning(L.root)) lines.push('note: systemd is not running here (no /run/systemd/system); on a systemd host, start it with:');
    else lines.push('start it (after an upgrade: systemctl daemon-reload && systemctl restart sockhunt-agent):');
    lines.push(`  ${START_HINT}`);
    io.out(`${lines.join('\n')}\n`);
    return 0;
  },
};

/** Options for `sockhunt agent` given after `--`: printable, and no secret on a command line anyone can read. */
function checkAgentArgs(args: string[]): string[] {
  for (const arg of args) {
    if (/[\u0000-\u001f\u007f]/.test(arg)) throw usage(`agent option ${JSON.stringify(arg)} holds a control character`);
    if (/^--enroll-secret(=|$)/.test(arg)) {
      throw usage(`--enroll-secret would be visible to every user in the process list: put SOCKHUNT_ENROLL_SECRET=… in ${AGENT_ENV_FILE} (mode 0600) instead`);
    }
  }
  return args;
}

function removeFile(path: string, what: string, dry: boolean, done: string[]): void {
  if (!dry) {
    try {
      unlinkSync(path);
    } catch (err) {
      throw failure(`cannot remove ${what} ${path}`, err);
    }
  }
  done.push(`${dry ? 'would remove' : 'removed'} ${what} ${path}`);
}

export const uninstallCommand: Command = {
  name: 'uninstall',
  summary: 'Stop and remove the sockhunt-agent service and its binary; --purge also removes config and state.',
  usage: 'sudo sockhunt uninstall [--purge] [--prefix /usr/local] [--root DIR] [--dry-run]',
  options: {
    ...LAYOUT_OPTIONS,
    purge: { type: 'boolean', description: `also remove ${DEFAULT_CONFIG_PATH}, ${AGENT_ENV_FILE} and ${STATE_DIR} (the baseline and findings)` },
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) throw usage(`sockhunt uninstall takes no arguments, not ${JSON.stringify(positionals[0])}`);
    requireLinux('uninstall');
    requireRoot('uninstall', values);
    const L = layout(values);
    const dry = values['dry-run'] === true;
    const purge = values.purge === true;
    const done: string[] = [];
    const live = systemdRunning(L.root);

    if (live) {
      if (dry) done.push(`would run: systemctl disable --now ${UNIT_NAME}`);
      else {
        const r = systemctl(['disable', '--now', UNIT_NAME]);
        done.push(r.ok ? `stopped and disabled ${UNIT_NAME}` : `systemctl disable --now ${UNIT_NAME}: ${r.message || 'failed'} (continuing)`);
      }
    }

    const unitDisk = L.disk(L.unit);
    let record: { path: string; sha256: string } | null = null;
    if (existsSync(unitDisk)) {
      const text = readFileSync(unitDisk, 'utf8');
      if (text.startsWith(UNIT_MARKER)) {
        record = recordedBinary(text);
        removeFile(unitDisk, 'unit', dry, done);
      } else {
        done.push(`left ${unitDisk}: \`sockhunt install\` did not write it`);
      }
    }
    const wantsDisk = L.disk(L.wants);
    if (isSymlinkTo(wantsDisk, L.unit, unitDisk)) removeFile(wantsDisk, 'link', dry, done);

    const binPath = record?.path ?? L.bin;
    const binDisk = L.disk(binPath);
    if (existsSync(binDisk)) {
      if (record === null) done.push(`left ${binDisk}: no unit of \`sockhunt install\` records it (remove it by hand if it is sockhunt)`);
      else if (sha256File(binDisk) !== record.sha256) done.push(`left ${binDisk}: it is not the binary \`sockhunt install\` put there (sha256 differs)`);
      else removeFile(binDisk, 'binary', dry, done);
    }

    const configDisk = L.disk(L.config);
    const stateDisk = L.disk(L.state);
    if (purge) {
      if (existsSync(configDisk)) removeFile(configDisk, 'config', dry, done);
      const envDisk = L.disk(AGENT_ENV_FILE);
      if (existsSync(envDisk)) removeFile(envDisk, 'environment file', dry, done);
      const configDir = dirname(configDisk);
      if (!dry && existsSync(configDir) && readdirSync(configDir).length === 0) rmdirSync(configDir);
      if (existsSync(stateDisk)) {
        if (!dry) {
          try {
            rmSync(stateDisk, { recursive: true, force: true });
          } catch (err) {
            throw failure(`cannot remove ${stateDisk}`, err);
          }
        }
        done.push(`${dry ? 'would remove' : 'removed'} state ${stateDisk} (baseline, history, findings)`);
      }
    } else {
      const kept = [configDisk, stateDisk].filter((p) => existsSync(p));
      if (kept.length > 0) done.push(`kept ${kept.join(' and ')} (--purge removes them)`);
    }

    if (live && !dry) {
      const r = systemctl(['daemon-reload']);
      if (!r.ok) done.push(`systemctl daemon-reload: ${r.message || 'failed'}`);
    }
    if (done.length === 0) done.push(`nothing to remove: no ${UNIT_NAME} and no binary at ${binDisk}`);
    io.out(`${done.join('\n')}\n`);
    return 0;
  },
};

/** True when `link` is a symlink to the unit (as `systemctl enable` makes it: absolute target path). */
function isSymlinkTo(link: string, unitPath: string, unitDisk: string): boolean {
  try {
    if (!lstatSync(link).isSymbolicLink()) return false;
    const target = readlinkSync(link);
    return target === unitPath || target === unitDisk || resolve(dirname(link), target) === unitDisk;
  } catch {
    return false;
  }
}
