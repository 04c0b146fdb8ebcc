// The installed unit under a real systemd. Runs as root on Linux with systemd installed and overlayfs (CI installs
// systemd; SOCKHUNT_TEST_SYSTEMD=0 turns it off). Elsewhere the suite reports itself skipped, with this reason. systemd boots as PID 1 of a private pid + mount namespace in which /etc, /usr/local and
// /usr/lib/systemd are overlays (the distribution's .wants and generators removed, so nothing but our unit
// starts) and /run and /var/lib are empty tmpfs: the host is not changed. The real single binary installs
// itself, and a drop-in turns the agent into a oneshot that records its capabilities and environment, takes a
// snapshot and hunts for 3 s — with every hardening option of the unit in force.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBinary } from './single-binary.js';
import { readableTempDir } from '../support/other-user.js';

const enabled =
  process.env.SOCKHUNT_TEST_SYSTEMD !== '0' &&
  process.platform === 'linux' &&
  process.getuid?.() === 0 &&
  existsSync('/lib/systemd/systemd') &&
  readFileSync('/proc/filesystems', 'utf8').includes('overlay');

const DROP_IN = `[Service]
Type=oneshot
RemainAfterExit=yes
Restart=no
ExecStart=
ExecStart=/bin/sh -c 'grep -E "^Cap(Prm|Eff|Bnd|Amb)" /proc/self/status; env > /run/sht/env.txt; for d in /etc /usr/local /root /tmp /var/lib/sockhunt; do touch $d/.sockhunt-probe 2>/dev/null && echo "writable $d"; done; true'
ExecStart=/usr/local/bin/sockhunt snapshot --format json --listening
ExecStart=/usr/local/bin/sockhunt hunt --for 3s --format json --quiet
StandardOutput=append:/run/sht/out.txt
StandardError=append:/run/sht/err.txt
# UnsetEnvironment= of the unit must win over this
Environment=NODE_OPTIONS=--require=/nonexistent/hook.js
`;

function insideScript(work: string): string {
  return `#!/bin/sh
set -e
W=${work}/ns
ov() { mkdir -p $W/$2-up $W/$2-work; mount -t overlay overlay -o lowerdir=$1,upperdir=$W/$2-up,workdir=$W/$2-work $1; }
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /var/lib
ov /etc etc
ov /usr/local usrlocal
ov /usr/lib/systemd usrlibsd
find /usr/lib/systemd/system /etc/systemd/system \\( -name '*.wants' -o -name '*.requires' \\) -prune -exec rm -rf {} +
rm -rf /usr/lib/systemd/system-generators/*
mkdir -p /run/sht /etc/systemd/system/sockhunt-agent.service.d
${work}/sockhunt install -- --server wss://hunt.example:8700 --pin 'sha256/a b%$"c;' > /run/sht/install.txt
cp ${work}/drop-in.conf /etc/systemd/system/sockhunt-agent.service.d/test.conf
# the installed unit once more (private /tmp: the script goes to /usr/local/bin), running a script that prints its arguments one per line
cp ${work}/argv.sh /usr/local/bin/sockhunt-argv
sed "s#^ExecStart=/usr/local/bin/sockhunt #ExecStart=/usr/local/bin/sockhunt-argv #" /etc/systemd/system/sockhunt-agent.service > /etc/systemd/system/argv-check.service
mkdir -p /etc/systemd/system/argv-check.service.d
printf '[Service]\\nStandardOutput=file:/run/sht/argv.txt\\nRestart=no\\n' > /etc/systemd/system/argv-check.service.d/out.conf
printf '[Unit]\\nWants=sockhunt-agent.service argv-check.service\\n' > /etc/systemd/system/sockhunt-test.target
setpriv --reuid=65534 --regid=65534 --clear-groups ${process.execPath} ${work}/listen.cjs > $W/port-user &
unshare --net sh -c 'ip link set lo up 2>/dev/null; exec "$0" "$1"' ${process.execPath} ${work}/listen.cjs > $W/port-netns &
sleep 1
exec /lib/systemd/systemd --system --unit=sockhunt-test.target --log-target=null --show-status=no
`;
}

describe.runIf(enabled)('the unit under systemd (needs root, systemd and overlayfs)', () => {
  // nobody runs listen.cjs from here
  const workDir = readableTempDir('sockhunt-systemd-');
  const work = workDir.dir;
  let outer: ChildProcess;
  let systemdPid = 0;
  const inNs = (...cmd: string[]) => spawnSync('nsenter', ['-t', String(systemdPid), '-m', '-p', ...cmd], { encoding: 'utf8' });

  beforeAll(async () => {
    copyFileSync(ensureBinary(), join(work, 'sockhunt'));
    chmodSync(join(work, 'sockhunt'), 0o755);
    writeFileSync(join(work, 'drop-in.conf'), DROP_IN);
    writeFileSync(join(work, 'listen.cjs'), "const s = require('net').createServer().listen(0, '127.0.0.1', () => console.log(s.address().port));\n");
    writeFileSync(join(work, 'inside.sh'), insideScript(work), { mode: 0o755 });
    writeFileSync(join(work, 'argv.sh'), '#!/bin/sh\nfor a; do printf "%s\\n" "$a"; done\n', { mode: 0o755 });
    outer = spawn('unshare', ['--pid', '--fork', '--mount', '--uts', '--ipc', '--propagation', 'private', '--mount-proc', join(work, 'inside.sh')], { stdio: 'inherit' });
    // systemd is the forked child of unshare; wait until the oneshot has finished one way or the other.
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      const pid = spawnSync('pgrep', ['-P', String(outer.pid), '-x', 'systemd'], { encoding: 'utf8' }).stdout.trim();
      if (!pid) continue;
      systemdPid = Number(pid);
      const state = inNs('systemctl', 'is-active', 'sockhunt-agent.service').stdout.trim();
      if (state === 'active' || state === 'failed') return;
    }
    throw new Error('systemd did not run sockhunt-agent.service within 90 s');
  }, 180_000);

  afterAll(async () => {
    if (systemdPid) inNs('systemctl', 'poweroff', '--force', '--force');
    await new Promise((r) => setTimeout(r, 1000));
    if (outer && outer.exitCode === null) outer.kill('SIGKILL');
    workDir.remove();
  });

  const read = (file: string): string => inNs('cat', file).stdout;

  it('runs every step of the service successfully', () => {
    const status = inNs('systemctl', 'show', 'sockhunt-agent.service', '-p', 'Result', '-p', 'ActiveState');
    expect(read('/run/sht/err.txt')).toBe('');
    expect(status.stdout).toContain('Result=success');
    expect(status.stdout).toContain('ActiveState=active');
  });

  it('has exactly CAP_DAC_READ_SEARCH, CAP_NET_RAW and CAP_SYS_PTRACE, and no NODE_OPTIONS', () => {
    const caps = read('/run/sht/out.txt');
    // CAP_DAC_READ_SEARCH = 2, CAP_NET_RAW = 13, CAP_SYS_PTRACE = 19
    const bits = ((1n << 2n) | (1n << 13n) | (1n << 19n)).toString(16).padStart(16, '0');
    for (const set of ['CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect(caps).toContain(`${set}:\t${bits}`);
    const env = read('/run/sht/env.txt');
    expect(env).toContain('SOCKHUNT_HOME=/var/lib/sockhunt');
    expect(env).not.toContain('NODE_OPTIONS');
  });

  it('sees the file system read-only but for its state directory and a private /tmp', () => {
    const writable = read('/run/sht/out.txt').split('\n').filter((l) => l.startsWith('writable '));
    expect(writable).toEqual(['writable /tmp', 'writable /var/lib/sockhunt']);
  });

  it('passes the agent options given to install as separate, unmangled arguments', () => {
    expect(read('/run/sht/argv.txt').split('\n').slice(0, -1)).toEqual([
      'agent',
      '--config',
      '/etc/sockhunt/sockhunt.yaml',
      '--server',
      'wss://hunt.example:8700',
      '--pin',
      'sha256/a b%$"c;',
    ]);
  });

  it('attributes another user\'s socket and sees another network namespace, with the addons in the state directory', () => {
    const all = read('/run/sht/out.txt');
    const out = all.slice(all.indexOf('['));
    const split = out.indexOf('\n]\n') + 3;
    const snapshot = JSON.parse(out.slice(0, split)) as Array<{ source: { port: number }; process: { pid: number | null }; user: { name: string | null }; socket: { netns?: string } }>;
    expect(Array.isArray(JSON.parse(out.slice(split)))).toBe(true); // the hunt's findings
    const portUser = Number(readFileSync(join(work, 'ns', 'port-user'), 'utf8'));
    const portNetns = Number(readFileSync(join(work, 'ns', 'port-netns'), 'utf8'));
    expect(snapshot.find((r) => r.source.port === portUser)).toMatchObject({ process: { pid: expect.any(Number) }, user: { name: 'nobody' } });
    expect(snapshot.find((r) => r.source.port === portNetns)).toMatchObject({ process: { pid: expect.any(Number) }, socket: { netns: expect.any(String) } });
    expect(inNs('ls', '/var/lib/sockhunt/addons').stdout).toMatch(/better_sqlite3-[0-9a-f]{64}\.node\nsockdiag-[0-9a-f]{64}\.node/);
  });

  it('uninstall stops the service and removes unit and binary, keeping config and state', () => {
    const r = inNs('/usr/local/bin/sockhunt', 'uninstall');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('stopped and disabled sockhunt-agent.service');
    expect(inNs('systemctl', 'is-active', 'sockhunt-agent.service').stdout.trim()).toBe('inactive');
    const exists = (path: string) => inNs('test', '-e', path).status === 0;
    expect(exists('/etc/systemd/system/sockhunt-agent.service')).toBe(false);
    expect(exists('/usr/local/bin/sockhunt')).toBe(false);
    expect(exists('/etc/sockhunt/sockhunt.yaml')).toBe(true);
    expect(exists('/var/lib/sockhunt/agent.db')).toBe(true);
  });
});
