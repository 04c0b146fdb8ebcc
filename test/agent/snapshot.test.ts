import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRows, parseState, rowFilter } from '../../agent/snapshot.js';
import { csvCell, escapeForTerminal, safeJson } from '../../core/escape.js';
import type { Connection } from '../../collectors/types.js';
import { startReady, stopAll } from '../support/processes.js';
import { row as connection } from '../support/rows.js';
import { tempDir, type TempDir } from '../support/tmp.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function row(over: { name?: string; pid?: number; state?: Connection['socket']['state']; dst?: string; dport?: number; sport?: number; user?: string; cmd?: string }): Connection {
  return connection({
    ts: '2026-11-28T00:00:00.000Z',
    hostName: 'h',
    pid: over.pid ?? 10,
    name: over.name ?? 'curl',
    executable: `/usr/bin/${over.name ?? 'curl'}`,
    commandLine: over.cmd ?? 'curl x',
    parentName: 'init',
    user: over.user ?? 'root',
    srcIp: '10.0.0.5',
    srcPort: over.sport ?? 40000,
    dstIp: over.dst ?? '198.51.100.7',
    dstPort: over.dport ?? 443,
    direction: 'egress',
    state: over.state ?? 'ESTABLISHED',
    inode: 1,
    family: 'inet',
  });
}

describe('escaping endpoint strings', () => {
  it('never lets a control sequence reach the terminal', () => {
    const evil = 'a\u001b[2J\u001b]0;x\u0007b\nc\u009bd\u202ee';
    const out = escapeForTerminal(evil);
    expect(out).toBe('a\\e[2J\\e]0;x\\x07b\\nc\\x9bd\\u202ee');
    expect(out).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
  });

  it('keeps JSON valid while escaping what JSON.stringify leaves raw', () => {
    const text = safeJson({ name: 'x\u009by\u202ez\u001b' }, 2);
    expect(text).not.toMatch(/[\u001b\u009b\u202e]/);
    expect(JSON.parse(text)).toEqual({ name: 'x\u009by\u202ez\u001b' });
  });

  it('neutralises CSV formula injection', () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-cmd')).toBe("'-cmd");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell(443)).toBe('443');
    expect(csvCell(null)).toBe('');
    expect(csvCell([1, 2])).toBe('1 2');
  });
});

describe('filters', () => {
  const rows = [
    row({ pid: 1, name: 'curl' }),
    row({ pid: 2, name: 'sshd', state: 'LISTEN', sport: 22, dst: '0.0.0.0', dport: 0 }),
    row({ pid: 3, name: 'python3', dst: '2001:db8::5', dport: 8443, user: 'www-data' }),
    row({ pid: 4, name: 'nc', state: 'SYN_SENT', dst: '192.0.2.9', dport: 4444 }),
  ];
  const pids = (f: Parameters<typeof rowFilter>[0]): number[] => rows.filter(rowFilter(f)).map((r) => r.process.pid!);

  it('selects by pid, process, user, state, remote, port', () => {
    expect(pids({ pids: [3, 4] })).toEqual([3, 4]);
    expect(pids({ process: 'PYTH' })).toEqual([3]);
    expect(pids({ user: 'www-data' })).toEqual([3]);
    expect(pids({ states: [parseState('syn-sent')] })).toEqual([4]);
    expect(pids({ remote: '2001:db8::/32' })).toEqual([3]);
    expect(pids({ remote: '192.0.2.9' })).toEqual([4]);
    expect(pids({ port: 22 })).toEqual([2]);
    expect(pids({ listening: true })).toEqual([2]);
    expect(pids({ established: true })).toEqual([1, 3]);
  });

  it('rejects an unknown state with a usage error', () => {
    expect(() => parseState('bogus')).toThrow(/unknown socket state/);
  });
});

describe('formats', () => {
  const rows = [row({ name: '=cmd|evil', cmd: '-e x' }), row({ pid: 3, name: 'python3', dst: '2001:db8::5' })];

  it('writes CSV with dotted headers and neutralised cells', () => {
    const lines = formatRows(rows, 'csv').trim().split('\n');
    expect(lines[0]).toMatch(/^@timestamp,host\.name,process\.pid,process\.name,/);
    expect(lines[1]).toContain(",'=cmd|evil,");
    expect(lines[1]).toContain(",'-e x,");
  });

  it('writes ndjson one nested row per line', () => {
    const lines = formatRows(rows, 'ndjson').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1]!).destination).toEqual({ ip: '2001:db8::5', port: 443 });
  });

  it('keeps the table within the terminal width', () => {
    const wide = [row({ name: 'n'.repeat(200), dst: '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff' })];
    for (const width of [80, 120]) {
      for (const line of formatRows(wide, 'table', width).trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(width);
    }
  });
});

describe('snapshot of a hostile process name, end to end', () => {
  let tmp: TempDir;
  afterAll(async () => {
    await stopAll();
    tmp.remove();
  });

  it('prints the name escaped in a table and as valid JSON', async () => {
    tmp = tempDir('sockhunt-evil-');
    const dir = tmp.dir;
    const name = 'ev\u001b[31mil\u0007 name\nx';
    symlinkSync(process.execPath, join(dir, name));
    const { ready } = await startReady<{ pid: number }>(join(dir, name), [join(root, 'test/support/socket-load.mjs'), '{}']);
    const table = execFileSync(process.execPath, [join(root, 'bin/sockhunt.js'), 'snapshot', '--pid', String(ready.pid)], { encoding: 'utf8' });
    expect(table).not.toMatch(/[\u0007\u001b]/);
    expect(table).toContain('ev\\e[31mil\\x07');
    const json = JSON.parse(execFileSync(process.execPath, [join(root, 'bin/sockhunt.js'), 'snapshot', '--format', 'json', '--pid', String(ready.pid)], { encoding: 'utf8' })) as Connection[];
    expect(json.length).toBeGreaterThan(5);
    expect(json[0]!.process.name).toBe(name);
  });
});
