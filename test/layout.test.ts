// The import rules of the layout (README "Where things live", docs/DESIGN.md): each room may import only the rooms
// upstream of it, and no module reaches itself through its imports (type-only imports count: they are coupling).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROOMS = ['core', 'collectors', 'agent', 'rules', 'store', 'server', 'cli', 'package'] as const;

function sources(dir: string): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(join(ROOT, dir));
  } catch {
    return out;
  }
  for (const name of names) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out = out.concat(sources(rel));
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Project-relative paths of the modules a file imports (static, dynamic, re-exports), ours only. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => normalize(join(dirname(file), spec)).replace(/\.js$/, '.ts'));
}

const FILES = ROOMS.flatMap((r) => sources(r));
const GRAPH = new Map(FILES.map((f) => [f, importsOf(f)]));

const under = (file: string, ...prefixes: string[]): boolean => prefixes.some((p) => file === p || file.startsWith(`${p}/`));

/** Which imports a rule forbids: [importer, imported] pairs. */
function violations(from: (f: string) => boolean, allowed: (target: string, importer: string) => boolean): string[] {
  const bad: string[] = [];
  for (const [file, deps] of GRAPH) {
    if (!from(file)) continue;
    for (const d of deps) if (!allowed(d, file)) bad.push(`${file} → ${d}`);
  }
  return bad;
}

describe('layout: import rules', () => {
  it('finds the sources (the check is not vacuous)', () => {
    expect(FILES.length).toBeGreaterThan(100);
    expect(GRAPH.get('agent/loop.ts')?.length).toBeGreaterThan(3);
  });

  it('core imports nothing of ours', () => {
    expect(violations((f) => under(f, 'core'), (d) => under(d, 'core'))).toEqual([]);
  });

  it('collectors import only core', () => {
    expect(violations((f) => under(f, 'collectors'), (d) => under(d, 'core', 'collectors'))).toEqual([]);
  });

  it("detectors import core, collectors' types, their shipped data and each other", () => {
    expect(
      violations(
        (f) => under(f, 'agent/detect'),
        (d) => under(d, 'core', 'agent/detect', 'agent/data') || d === 'collectors/types.ts',
      ),
    ).toEqual([]);
  });

  it("rule engines import core and collectors' types only", () => {
    expect(violations((f) => under(f, 'rules'), (d) => under(d, 'core', 'rules') || d === 'collectors/types.ts')).toEqual([]);
  });

  it('store imports only core, collectors and itself; the agent and server stores only their own and the shared plumbing', () => {
    expect(violations((f) => under(f, 'store'), (d) => under(d, 'core', 'collectors', 'store'))).toEqual([]);
    expect(violations((f) => under(f, 'store/agent'), (d) => !under(d, 'store/server'))).toEqual([]);
    expect(violations((f) => under(f, 'store/server'), (d) => !under(d, 'store/agent'))).toEqual([]);
    expect(violations((f) => under(f, 'store/sqlite'), (d) => !under(d, 'store/agent', 'store/server'))).toEqual([]);
  });

  it('server imports nothing from agent/, cli/ or package/', () => {
    expect(violations((f) => under(f, 'server'), (d) => !under(d, 'agent', 'cli', 'package'))).toEqual([]);
  });

  it('the agent imports neither the server nor the CLI', () => {
    expect(violations((f) => under(f, 'agent'), (d) => !under(d, 'server', 'cli', 'package'))).toEqual([]);
  });

  it('nothing but the CLI (and the single binary that runs it) imports the CLI or the server', () => {
    expect(violations((f) => !under(f, 'cli', 'package', 'server'), (d) => !under(d, 'server', 'cli'))).toEqual([]);
    expect(violations((f) => under(f, 'server'), (d) => !under(d, 'cli'))).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const d of GRAPH.get(f) ?? []) {
        if (!GRAPH.has(d)) continue;
        const s = state.get(d);
        if (s === 'open') cycles.push([...stack.slice(stack.indexOf(d)), d].join(' → '));
        else if (s === undefined) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of GRAPH.keys()) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it('every import resolves to a file of the project (a moved file leaves no dangling path)', () => {
    const missing = [...GRAPH].flatMap(([f, deps]) =>
      deps.filter((d) => !GRAPH.has(d) && !existsUnder(d)).map((d) => `${f} → ${relative(ROOT, join(ROOT, d))}`),
    );
    expect(missing).toEqual([]);
  });
});

function existsUnder(path: string): boolean {
  try {
    return statSync(join(ROOT, path)).isFile();
  } catch {
    return false;
  }
}
