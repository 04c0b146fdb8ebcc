import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SockhuntError } from '../../core/errors.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & { description: string; valueName?: string };

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  /** Terminal width for tables (80–200), or 120 when not a terminal. */
  columns: number;
  isTTY: boolean;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Record<string, OptionSpec>;
  /** Returns the exit code. */
  run(values: Record<string, unknown>, positionals: string[], io: CommandIo): Promise<number>;
}

export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

export function parseCommandArgs(cmd: Command, args: string[]): { values: Record<string, unknown>; positionals: string[] } {
  const options = { ...COMMON_OPTIONS, ...cmd.options };
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: parsed.values as Record<string, unknown>, positionals: parsed.positionals };
  } catch (err) {
    throw new SockhuntError('SOCKHUNT_E_USAGE', `${(err as Error).message.replace(/\. To specify.*$/s, '')} (see \`sockhunt ${cmd.name} --help\`)`, { cause: err });
  }
}

export function commandHelp(cmd: Command): string {
  const options = { ...cmd.options, ...COMMON_OPTIONS };
  const lines = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
    return `  ${flag.padEnd(30)} ${o.description}`;
  });
  return `${cmd.summary}\n\nUsage: ${cmd.usage}\n\nOptions:\n${lines.join('\n')}\n`;
}

/** A whole number within bounds, or a usage error naming the option. */
export function intOption(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SockhuntError('SOCKHUNT_E_USAGE', `--${name} takes a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

export function enumOption<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new SockhuntError('SOCKHUNT_E_USAGE', `--${name} takes one of ${allowed.join('|')}, not ${JSON.stringify(value)}`);
  }
  return value as T;
}
