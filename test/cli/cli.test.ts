import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [join(root, 'bin/sockhunt.js'), ...args], { encoding: 'utf8' });

describe('command line', () => {
  it('prints help and the version', () => {
    expect(run('--help')).toMatchObject({ status: 0, stdout: expect.stringContaining('snapshot') });
    expect(run('snapshot', '--help')).toMatchObject({ status: 0, stdout: expect.stringContaining('--format') });
    expect(run('--version').stdout).toMatch(/^sockhunt \d+\.\d+\.\d+ \(/);
  });

  it('answers bad usage with exit 2 and a coded message', () => {
    const cases = [['nope'], ['snapshot', '--format', 'xml'], ['snapshot', '--bogus'], ['snapshot', '--port', '70000'], ['snapshot', '--remote', '10.0.0.0/99'], ['snapshot', '--state', 'weird']];
    for (const args of cases) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/SOCKHUNT_E_(USAGE|INPUT)/);
    }
  });

  it('does not fail when its output is cut short by a pipe', () => {
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${join(root, 'bin/sockhunt.js')}" snapshot --format ndjson | head -c 10 >/dev/null; echo "\${PIPESTATUS:-ok}"`], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/EPIPE|unexpected/);
  });
});
