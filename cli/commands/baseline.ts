import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BaselineStore } from '../../store/agent/baseline.js';
import type { BaselineDiff } from '../../store/agent/baseline-file.js';
import { parseAllowDestination } from '../../core/allow.js';
import { openAgentStore } from '../../store/agent/index.js';
import { createCollector } from '../../collectors/index.js';
import { SockhuntError } from '../../core/errors.js';
import { parseDuration, formatDuration } from '../../core/duration.js';
import { escapeForTerminal, safeJson } from '../../core/escape.js';
import { AgentLoop } from '../../agent/loop.js';
import { type Command, type CommandIo, enumOption, intOption } from './command.js';
import { SAMPLING_OPTIONS, openRuntime, type Runtime } from './runtime.js';

const USAGE = `sockhunt baseline show
       sockhunt baseline export [--out FILE]
       sockhunt baseline import FILE
       sockhunt baseline diff A.json [B.json]        (B: the current baseline when omitted)
       sockhunt baseline diff --now [--for 30s]      (what this host does now that the baseline lacks)
       sockhunt baseline allow --process KEY|'*' --destination '*'|IP|CIDR[:PORT][/tcp|udp] [--comment TEXT]
       sockhunt baseline allow --list | --remove ID`;

function readJsonFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SockhuntError('SOCKHUNT_E_INPUT', `cannot read ${path}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SockhuntError('SOCKHUNT_E_INPUT', `${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

function printDiff(d: BaselineDiff, io: CommandIo, format: 'text' | 'json'): void {
  if (format === 'json') {
    io.out(`${safeJson(d, 2)}\n`);
    return;
  }
  const e = escapeForTerminal;
  const lines: string[] = [];
  for (const p of d.addedProcesses) lines.push(`+ process ${e(p)}`);
  for (const p of d.removedProcesses) lines.push(`- process ${e(p)}`);
  for (const x of d.addedDestinations) lines.push(`+ ${e(x.processKey)} → ${x.grain} ${e(x.value)}`);
  for (const x of d.removedDestinations) lines.push(`- ${e(x.processKey)} → ${x.grain} ${e(x.value)}`);
  for (const a of d.addedAllow) lines.push(`+ allow ${e(a.process)} → ${e(a.destination)}${a.port ? `:${a.port}` : ''}${a.transport ? `/${a.transport}` : ''}`);
  for (const a of d.removedAllow) lines.push(`- allow ${e(a.process)} → ${e(a.destination)}${a.port ? `:${a.port}` : ''}${a.transport ? `/${a.transport}` : ''}`);
  io.out(lines.length ? `${lines.join('\n')}\n` : 'no differences\n');
}

async function diffNow(rt: Runtime, durationMs: number, io: CommandIo): Promise<BaselineDiff> {
  const dir = mkdtempSync(join(tmpdir(), 'sockhunt-now-'));
  const scratch = openAgentStore(join(dir, 'now.db'), { quickCheck: false });
  const collector = await createCollector(rt.config.collector);
  try {
    io.err(`sampling ${formatDuration(durationMs)} to compare with the baseline…\n`);
    const loop = new AgentLoop({ collector, store: scratch, config: rt.config, mode: 'learn', host: rt.host, detectors: [] });
    await loop.run({ durationMs });
    return BaselineStore.diff(rt.store.baseline.export({ name: rt.host.name }), scratch.baseline.export({ name: rt.host.name }));
  } finally {
    collector.close?.();
    scratch.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const baselineCommand: Command = {
  name: 'baseline',
  summary: 'Show, export, import, diff the baseline, or allow a process → destination by hand.',
  usage: USAGE,
  options: {
    out: { type: 'string', short: 'o', description: 'export: write to FILE instead of standard output', valueName: 'FILE' },
    format: { type: 'string', description: 'show, diff, allow --list: text (default) or json', valueName: 'FORMAT' },
    now: { type: 'boolean', description: 'diff: compare the baseline with what this host does now' },
    for: { type: 'string', description: 'diff --now: how long to sample (default 30s)', valueName: 'DURATION' },
    process: { type: 'string', description: "allow: process key (as `baseline show` lists it) or '*'", valueName: 'KEY' },
    destination: { type: 'string', description: "allow: '*', IP or CIDR, optional :PORT and /tcp|/udp", valueName: 'DEST' },
    comment: { type: 'string', description: 'allow: why this is benign', valueName: 'TEXT' },
    list: { type: 'boolean', description: 'allow: list the allow rules' },
    remove: { type: 'string', description: 'allow: remove the rule with this id', valueName: 'ID' },
    ...SAMPLING_OPTIONS,
  },
  async run(values, positionals, io) {
    const [action, ...args] = positionals;
    const format = enumOption(values.format, 'format', ['text', 'json'] as const, 'text');
    if (!action || !['show', 'export', 'import', 'diff', 'allow'].includes(action)) {
      throw new SockhuntError('SOCKHUNT_E_USAGE', `baseline needs one of show, export, import, diff, allow\nUsage: ${USAGE}`);
    }
    if (action === 'diff' && !values.now && args.length === 2) {
      printDiff(BaselineStore.diff(readJsonFile(args[0]!), readJsonFile(args[1]!)), io, format);
      return 0;
    }
    const rt = openRuntime(values, { quickCheck: false });
    try {
      switch (action) {
        case 'show': {
          const s = rt.store.baseline.summary();
          if (format === 'json') {
            io.out(`${safeJson({ ...s, allow: rt.store.baseline.listAllow(), processes: rt.store.baseline.export({ name: rt.host.name }).processes }, 2)}\n`);
            break;
          }
          io.out(`baseline ${rt.dbPath}: ${s.processes} processes, ${s.destinations.endpoint} endpoints, ${s.destinations.network} networks, ${s.destinations.port} ports, ${s.allowRules} allow rules, learned for ${formatDuration(s.learningMs)}\n`);
          for (const p of rt.store.baseline.export({ name: rt.host.name }).processes) {
            const endpoints = p.destinations.filter((d) => d.grain === 'endpoint').map((d) => escapeForTerminal(d.value));
            io.out(`  ${escapeForTerminal(p.key)}  (${p.connections} connections)\n`);
            for (const ep of endpoints.slice(0, 20)) io.out(`      ${ep}\n`);
            if (endpoints.length > 20) io.out(`      … ${endpoints.length - 20} more\n`);
          }
          break;
        }
        case 'export': {
          const text = `${JSON.stringify(rt.store.baseline.export({ name: rt.host.name }), null, 2)}\n`;
          if (typeof values.out === 'string') {
            try {
              writeFileSync(values.out, text, { mode: 0o600 });
            } catch (err) {
              throw new SockhuntError('SOCKHUNT_E_INPUT', `cannot write ${values.out}`, { cause: err });
            }
            io.err(`baseline exported to ${values.out}\n`);
          } else io.out(text);
          break;
        }
        case 'import': {
          if (args.length !== 1) throw new SockhuntError('SOCKHUNT_E_USAGE', 'baseline import takes one FILE');
          const r = rt.store.baseline.import(readJsonFile(args[0]!));
          io.out(r.alreadyImported ? 'this export was imported before: nothing changed\n' : `imported ${r.processes} processes, ${r.destinations} destinations, ${r.allowRules} allow rules\n`);
          break;
        }
        case 'diff': {
          let diff: BaselineDiff;
          const current = rt.store.baseline.export({ name: rt.host.name });
          if (values.now) diff = await diffNow(rt, parseDuration((values.for as string | undefined) ?? '30s', '--for'), io);
          else if (args.length === 1) diff = BaselineStore.diff(readJsonFile(args[0]!), current);
          else throw new SockhuntError('SOCKHUNT_E_USAGE', `baseline diff takes A.json [B.json] or --now\nUsage: ${USAGE}`);
          printDiff(diff, io, format);
          break;
        }
        case 'allow': {
          if (values.list) {
            const rules = rt.store.baseline.listAllow();
            if (format === 'json') io.out(`${safeJson(rules, 2)}\n`);
            else for (const r of rules) io.out(`${r.id}\t${escapeForTerminal(r.process)} → ${r.destination}${r.port ? `:${r.port}` : ''}${r.transport ? `/${r.transport}` : ''}\t${r.source}${r.comment ? `\t${escapeForTerminal(r.comment)}` : ''}\n`);
            break;
          }
          if (values.remove !== undefined) {
            const id = intOption(values.remove, 'remove', 1, Number.MAX_SAFE_INTEGER)!;
            if (!rt.store.baseline.removeAllow(id)) throw new SockhuntError('SOCKHUNT_E_INPUT', `no allow rule with id ${id}`);
            io.out(`removed allow rule ${id}\n`);
            break;
          }
          if (typeof values.process !== 'string' || typeof values.destination !== 'string') {
            throw new SockhuntError('SOCKHUNT_E_USAGE', 'baseline allow needs --process and --destination (or --list / --remove ID)');
          }
          const rule = rt.store.baseline.allow({ process: values.process, ...parseAllowDestination(values.destination), source: 'cli', comment: (values.comment as string | undefined) ?? null });
          io.out(`allow rule ${rule.id}: ${escapeForTerminal(rule.process)} → ${rule.destination}${rule.port ? `:${rule.port}` : ''}${rule.transport ? `/${rule.transport}` : ''}\n`);
          break;
        }
      }
      return 0;
    } finally {
      rt.store.close();
    }
  },
};
