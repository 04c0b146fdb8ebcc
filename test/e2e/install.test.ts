// `sockhunt install` / `uninstall` into a scratch root (--root): files, modes, the unit's hardening (checked by
// `systemd-analyze verify` where installed), the config kept across installs, and what uninstall removes.
// The binary installed is a stand-in script that answers --version like sockhunt; test/e2e/binary.test.ts
// installs the real single binary.
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installCommand, uninstallCommand } from '../../cli/commands/install.js';
import { type Command, parseCommandArgs } from '../../cli/commands/command.js';
import { loadConfig, parseConfig } from '../../agent/config.js';
import { isSockhuntError } from '../../core/errors.js';
import { cliFiles, readableBy } from '../support/other-user.js';
import { tempDir } from '../support/tmp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = tempDir('sockhunt-install-');
const scratch = tmp.dir;
afterAll(() => tmp.remove());

const fake = join(scratch, 'sockhunt-fake');
writeFileSync(fake, '#!/bin/sh\necho "sockhunt 9.9.9 (fake0001) node 20.20.2 linux-x64"\n');
chmodSync(fake, 0o755);

const UNIT = 'etc/systemd/system/sockhunt-agent.service';
const CONFIG = 'etc/sockhunt/sockhunt.yaml';
const BIN = 'usr/local/bin/sockhunt';

async function run(cmd: Command, args: string[]): Promise<{ code: number; out: string; err: string; error?: unknown }> {
  let out = '';
  let err = '';
  const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), columns: 120, isTTY: false };
  try {
    const { values, positionals } = parseCommandArgs(cmd, args);
    return { code: await cmd.run(values, positionals, io), out, err };
  } catch (error) {
    return { code: isSockhuntError(error) ? error.exitCode : 3, out, err, error };
  }
}

/** A unit file as systemd reads it: section → key → values (keys may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    expect(eq, `not key=value: ${line}`).toBeGreaterThan(0);
    expect(current, `key outside a section: ${line}`).toBeDefined();
    const key = line.slice(0, eq);
    current!.set(key, [...(current!.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(scratch, 'root-'));
});
afterEach(() => vi.restoreAllMocks());

const mode = (path: string) => statSync(join(dir, path)).mode & 0o777;

describe('sockhunt install --root', () => {
  it('installs the binary, the unit and the config file with their modes', async () => {
    const r = await run(installCommand, ['--root', dir, '--binary', fake]);
    expect(r).toMatchObject({ code: 0 });
    expect(readFileSync(join(dir, BIN), 'utf8')).toBe(readFileSync(fake, 'utf8'));
    expect(mode(BIN)).toBe(0o755);
    expect(mode(UNIT)).toBe(0o644);
    expect(mode(CONFIG)).toBe(0o600);
    expect(r.out).toContain('systemctl daemon-reload && systemctl enable --now sockhunt-agent');
    expect(r.out).toContain('sockhunt 9.9.9 (fake0001)');
  });

  it('writes a hardened unit that runs the agent with the config', async () => {
    await run(installCommand, ['--root', dir, '--binary', fake]);
    const unit = parseUnit(readFileSync(join(dir, UNIT), 'utf8'));
    const service = unit.get('Service')!;
    const one = (key: string) => {
      expect(service.get(key), key).toHaveLength(1);
      return service.get(key)![0];
    };
    expect(one('ExecStart')).toBe('/usr/local/bin/sockhunt agent --config /etc/sockhunt/sockhunt.yaml');
    expect(one('StateDirectory')).toBe('sockhunt');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ReadWritePaths')).toBe('/var/lib/sockhunt');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('ProtectHome')).toBe('read-only');
    expect(one('Restart')).toBe('on-failure');
    expect(one('Environment')).toBe('SOCKHUNT_HOME=/var/lib/sockhunt');
    expect(one('CapabilityBoundingSet')!.split(' ').sort()).toEqual(['CAP_DAC_READ_SEARCH', 'CAP_NET_RAW', 'CAP_SYS_PTRACE']);
    expect(one('AmbientCapabilities')!.split(' ').sort()).toEqual(['CAP_DAC_READ_SEARCH', 'CAP_NET_RAW', 'CAP_SYS_PTRACE']);
    expect(one('UnsetEnvironment')!.split(' ')).toEqual(expect.arrayContaining(['NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'SOCKHUNT_ADDON_DIR']));
    expect(service.has('MemoryDenyWriteExecute')).toBe(false); // V8 needs writable executable memory
    expect(unit.get('Install')!.get('WantedBy')).toEqual(['multi-user.target']);
    expect(unit.get('Unit')!.get('After')).toEqual(['network-online.target']);
  });

  it.runIf(spawnSync('systemd-analyze', ['--version']).status === 0)('passes systemd-analyze verify without a warning', async () => {
    await run(installCommand, ['--root', dir, '--binary', fake, '--', '--server', 'wss://hunt.example:8700', '--pin', 'sha256/a b%$"c;']);
    // verify resolves the unit's dependencies (sysinit.target, …) inside --root: give it the system's units.
    cpSync('/usr/lib/systemd/system', join(dir, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${dir}`, '/etc/systemd/system/sockhunt-agent.service'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('writes a config file that loads as the defaults, and never overwrites one', async () => {
    await run(installCommand, ['--root', dir, '--binary', fake]);
    expect(loadConfig(join(dir, CONFIG)).config).toEqual(parseConfig({}));
    writeFileSync(join(dir, CONFIG), 'interval: 5s\n');
    const again = await run(installCommand, ['--root', dir, '--binary', fake]);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/kept .*sockhunt\.yaml/);
    expect(readFileSync(join(dir, CONFIG), 'utf8')).toBe('interval: 5s\n');
  });

  it('adds agent options after -- to ExecStart, quoted for systemd, and keeps the enroll secret off it', async () => {
    const r = await run(installCommand, ['--root', dir, '--binary', fake, '--', '--server', 'wss://hunt.example:8700', '--pin', 'sha256/a b%$"c']);
    expect(r.code).toBe(0);
    const unit = readFileSync(join(dir, UNIT), 'utf8');
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/bin\/sockhunt agent --config \/etc\/sockhunt\/sockhunt\.yaml --server wss:\/\/hunt\.example:8700 --pin "sha256\/a b%%\$\$\\"c"$/m);
    expect(unit).toMatch(/^EnvironmentFile=-\/etc\/sockhunt\/agent\.env$/m);
    const secret = await run(installCommand, ['--root', dir, '--binary', fake, '--', '--server', 'wss://h:1', '--enroll-secret', 'x']);
    expect(secret).toMatchObject({ code: 2, error: { message: expect.stringContaining('SOCKHUNT_ENROLL_SECRET') } });
    expect(await run(installCommand, ['--root', dir, '--binary', fake, '--', 'a\nb'])).toMatchObject({ code: 2 });
  });

  it('puts the binary under --prefix and names it in ExecStart', async () => {
    await run(installCommand, ['--root', dir, '--binary', fake, '--prefix', '/opt/sockhunt']);
    expect(existsSync(join(dir, 'opt/sockhunt/bin/sockhunt'))).toBe(true);
    expect(readFileSync(join(dir, UNIT), 'utf8')).toMatch(/^ExecStart=\/opt\/sockhunt\/bin\/sockhunt agent /m);
    expect(await run(installCommand, ['--root', dir, '--binary', fake, '--prefix', 'opt'])).toMatchObject({ code: 2 });
    expect(await run(installCommand, ['--root', dir, '--binary', fake, '--prefix', '/opt/my dir'])).toMatchObject({ code: 2 });
  });

  it('--dry-run prints the files and writes nothing', async () => {
    const r = await run(installCommand, ['--root', dir, '--binary', fake, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('would install');
    expect(r.out).toContain('CapabilityBoundingSet=');
    expect(r.out).toContain('#interval: 1s');
    expect(existsSync(join(dir, 'etc'))).toBe(false);
    expect(existsSync(join(dir, 'usr'))).toBe(false);
  });

  it('refuses without root (exit 2), unless staging with --root', async () => {
    vi.spyOn(process, 'geteuid').mockReturnValue(1000);
    const r = await run(installCommand, ['--binary', fake]);
    expect(r.code).toBe(2);
    expect(r.error).toMatchObject({ code: 'SOCKHUNT_E_USAGE', message: expect.stringContaining('must run as root') });
    expect(await run(uninstallCommand, [])).toMatchObject({ code: 2 });
    expect(await run(installCommand, ['--root', dir, '--binary', fake])).toMatchObject({ code: 0 });
  });

  it('from the npm CLI asks for the single binary', async () => {
    const r = await run(installCommand, ['--root', dir]);
    expect(r.code).toBe(2);
    expect(r.error).toMatchObject({ message: expect.stringContaining('npm run package') });
  });

  it('refuses a --binary that is not a working sockhunt', async () => {
    const r = await run(installCommand, ['--root', dir, '--binary', '/bin/true']);
    expect(r.code).toBe(2);
    expect(r.error).toMatchObject({ code: 'SOCKHUNT_E_INPUT', message: expect.stringContaining('not a working sockhunt binary') });
    expect(existsSync(join(dir, BIN))).toBe(false);
  });
});

describe('sockhunt uninstall --root', () => {
  it('removes the unit, its enable link and the binary; keeps config and state', async () => {
    await run(installCommand, ['--root', dir, '--binary', fake]);
    mkdirSync(join(dir, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
    symlinkSync('/etc/systemd/system/sockhunt-agent.service', join(dir, 'etc/systemd/system/multi-user.target.wants/sockhunt-agent.service'));
    mkdirSync(join(dir, 'var/lib/sockhunt'), { recursive: true });
    writeFileSync(join(dir, 'var/lib/sockhunt/agent.db'), '');
    const r = await run(uninstallCommand, ['--root', dir]);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, UNIT))).toBe(false);
    expect(existsSync(join(dir, BIN))).toBe(false);
    expect(() => lstatSync(join(dir, 'etc/systemd/system/multi-user.target.wants/sockhunt-agent.service'))).toThrow();
    expect(existsSync(join(dir, CONFIG))).toBe(true);
    expect(existsSync(join(dir, 'var/lib/sockhunt/agent.db'))).toBe(true);
    expect(r.out).toMatch(/kept .*sockhunt\.yaml and .*var\/lib\/sockhunt \(--purge removes them\)/);
  });

  it('--purge also removes the config, the environment file and the state', async () => {
    await run(installCommand, ['--root', dir, '--binary', fake]);
    writeFileSync(join(dir, 'etc/sockhunt/agent.env'), 'SOCKHUNT_ENROLL_SECRET=x\n', { mode: 0o600 });
    mkdirSync(join(dir, 'var/lib/sockhunt/addons'), { recursive: true });
    const r = await run(uninstallCommand, ['--root', dir, '--purge']);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'etc/sockhunt'))).toBe(false);
    expect(existsSync(join(dir, 'var/lib/sockhunt'))).toBe(false);
  });

  it('leaves a binary that is not the one it installed, and a unit it did not write', async () => {
    await run(installCommand, ['--root', dir, '--binary', fake]);
    writeFileSync(join(dir, BIN), '#!/bin/sh\necho something else\n');
    const r = await run(uninstallCommand, ['--root', dir]);
    expect(r.out).toMatch(/left .*usr\/local\/bin\/sockhunt: it is not the binary/);
    expect(existsSync(join(dir, BIN))).toBe(true);

    writeFileSync(join(dir, UNIT), '[Service]\nExecStart=/bin/true\n');
    const r2 = await run(uninstallCommand, ['--root', dir]);
    expect(r2.out).toMatch(/left .*sockhunt-agent\.service: `sockhunt install` did not write it/);
    expect(existsSync(join(dir, UNIT))).toBe(true);
  });

  it('finds the binary where the unit says, whatever --prefix', async () => {
    await run(installCommand, ['--root', dir, '--binary', fake, '--prefix', '/opt/sh']);
    await run(uninstallCommand, ['--root', dir]);
    expect(existsSync(join(dir, 'opt/sh/bin/sockhunt'))).toBe(false);
  });

  it('says so when there is nothing to remove', async () => {
    expect(await run(uninstallCommand, ['--root', dir])).toMatchObject({ code: 0, out: expect.stringContaining('nothing to remove') });
  });
});

describe('the command line', () => {
  it('refuses a non-root user with exit 2 and a clear message', (ctx) => {
    // nobody must be able to read the CLI: where this clone is out of its reach, it runs a readable copy.
    const cli = readableBy(root, cliFiles(root));
    if (typeof cli === 'string') {
      process.stderr.write(`install.test.ts: skipped "refuses a non-root user": ${cli}\n`);
      return ctx.skip(cli);
    }
    ctx.onTestFinished(() => cli.remove());
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(cli.root, 'bin/sockhunt.js'), 'install'], {
      encoding: 'utf8',
      cwd: '/',
    });
    if (r.error) return; // no setpriv: covered above with a mocked uid
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^sockhunt: sockhunt install must run as root.*\[SOCKHUNT_E_USAGE\]/);
  });
});
