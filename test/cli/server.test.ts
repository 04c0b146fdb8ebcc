// `sockhunt server` as a process: secrets generated and printed once, kept as hashes for the next run;
// a port in use is exit 3; bad usage exit 2; SIGTERM stops it cleanly.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLOSE } from '../../core/protocol.js';
import { TestClient } from '../support/server.js';
import { tempDir } from '../support/tmp.js';

const ENTRY = fileURLToPath(new URL('../server/fixtures/server-cli.ts', import.meta.url));
const children: ChildProcess[] = [];
let tmp: ReturnType<typeof tempDir> | null = null;

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, 'SIGKILL');
  tmp?.remove();
  tmp = null;
});

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number>;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SOCKHUNT_ENROLL_SECRET: '', SOCKHUNT_API_TOKEN: '', ...env },
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 128)));
  return { child, out: () => out, err: () => err, exited };
}

async function listening(r: Run): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(r.err());
    if (m) return m[1]!;
    if (Date.now() > deadline || r.child.exitCode !== null) throw new Error(`server did not start: ${r.err()}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe('sockhunt server', () => {
  it('prints generated secrets once, keeps their hashes, and reuses them on the next run', async () => {
    tmp = tempDir();
    const db = path.join(tmp.dir, 'server.db');
    const first = run(['--listen', '127.0.0.1:0', '--db', db]);
    const url = await listening(first);
    const token = /API token \(shown once; only its hash is kept\): (\S+)/.exec(first.out())?.[1];
    const secret = /enroll secret \(shown once; only its hash is kept\): (\S+)/.exec(first.out())?.[1];
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await fetch(`${url}/api/hosts`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.err()).toContain('shutting down');

    const second = run(['--listen', '127.0.0.1:0', '--db', db, '--retention', '30d']);
    const url2 = await listening(second);
    expect(second.out()).toBe('');
    expect(second.err()).toContain('using the API token set before');
    expect(second.err()).toContain('retention 720h');
    expect((await fetch(`${url2}/api/hosts`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);

    // A token from the environment replaces the stored one.
    const third = run(['--listen', '127.0.0.1:0', '--db', db], { SOCKHUNT_API_TOKEN: 'env-token-0123456789abcdef' });
    const url3 = await listening(third);
    expect((await fetch(`${url3}/api/hosts`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
    expect((await fetch(`${url3}/api/hosts`, { headers: { Authorization: 'Bearer env-token-0123456789abcdef' } })).status).toBe(200);
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  });

  it('exits 3 with a clear message when the port is in use, 2 on bad usage', async () => {
    tmp = tempDir();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const r = run(['--listen', `127.0.0.1:${port}`, '--db', path.join(tmp.dir, 's.db'), '--api-token', 'token-0123456789abcdef']);
      expect(await r.exited).toBe(3);
      expect(r.err()).toContain(`port 127.0.0.1:${port} is in use`);
      expect(r.err()).toContain('SOCKHUNT_E_RUNTIME');
    } finally {
      blocker.close();
    }
    const bad = run(['--listen', 'localhost', '--db', path.join(tmp.dir, 's.db')]);
    expect(await bad.exited).toBe(2);
    expect(bad.err()).toContain('--listen takes HOST:PORT');
    const tls = run(['--tls-cert', '/nonexistent', '--db', path.join(tmp.dir, 's.db')]);
    expect(await tls.exited).toBe(2);
    const short = run(['--api-token', 'short', '--db', path.join(tmp.dir, 's.db')]);
    expect(await short.exited).toBe(2);
    for (const n of ['0', '-1', '1.5', 'many']) {
      const pending = run([`--max-pending-per-ip=${n}`, '--db', path.join(tmp.dir, 's.db')]);
      expect(await pending.exited).toBe(2);
      expect(pending.err()).toContain('--max-pending-per-ip takes a whole number');
    }
  });

  it('limits connections waiting for hello per address with --max-pending-per-ip', async () => {
    tmp = tempDir();
    const r = run(['--listen', '127.0.0.1:0', '--db', path.join(tmp.dir, 's.db'), '--max-pending-per-ip', '1']);
    const url = (await listening(r)).replace(/^http/, 'ws');
    const first = new TestClient(`${url}/ws`);
    await first.opened;
    const second = new TestClient(`${url}/ws`);
    expect((await second.closed).code).toBe(CLOSE.TOO_MANY_PENDING);
    first.close();
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
    expect(r.err()).toContain('too many from one address are waiting for hello');
  });
});
