// `sockhunt up` as a user runs it: a local server and agent, the agent enrolled and online, Ctrl-C stops both.
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../support/tmp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tmp = tempDir('sockhunt-up-');
const home = tmp.dir;
let child: ChildProcess | null = null;

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  tmp.remove();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | null>, ms = 45_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('sockhunt up', () => {
  it('starts a server and an agent that enrolls, and stops both on SIGINT', async () => {
    const port = await freePort();
    child = spawn(process.execPath, [join(root, 'bin/sockhunt.js'), 'up', '--listen', `127.0.0.1:${port}`, '--learn-for', '0s'], {
      env: { ...process.env, SOCKHUNT_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const token = await until('the API token', async () => /API token \(paste it into the page\): (\S+)/.exec(out)?.[1] ?? null);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    expect(await fetch(`http://127.0.0.1:${port}/api/hosts`).then((r) => r.status)).toBe(401);
    const hosts = await until('the agent online', async () => {
      const r = await fetch(`http://127.0.0.1:${port}/api/hosts`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await r.json()) as { hosts: Array<{ online: boolean }> };
      return body.hosts.length === 1 && body.hosts[0]!.online ? body.hosts : null;
    });
    expect(hosts).toHaveLength(1);
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(err).toContain('[agent]');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });
});
