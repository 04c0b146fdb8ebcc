// Allow patterns: "this process (or any, `*`) may talk to this destination (IP, CIDR or `*`), optionally only
// on this port and transport". They come from `sockhunt baseline allow` (source cli) or the server (source
// server) and suppress deviations the baseline would otherwise report.
import type { Transport } from './connection.js';
import { SockhuntError } from './errors.js';
import { cidrContains, formatCidr, parseIp, tryParseCidr, type Cidr, type ParsedIp } from './ip.js';

export type AllowSource = 'cli' | 'server';

export interface AllowRule {
  /** A process key, or `*` for every process. */
  process: string;
  /** `*`, an address or a CIDR (canonical text: an address alone, or `network/prefix`). */
  destination: string;
  /** null: any port. */
  port: number | null;
  /** null: either transport. */
  transport: Transport | null;
  source: AllowSource;
  comment?: string | null;
}

export interface StoredAllowRule extends AllowRule {
  id: number;
  createdAt: number;
}

function invalid(message: string): SockhuntError {
  return new SockhuntError('SOCKHUNT_E_INPUT', message);
}

/** Canonical destination pattern text (`*`, `203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`); throws SOCKHUNT_E_INPUT. */
export function normaliseAllowDestination(text: string): string {
  const t = text.trim();
  if (t === '*') return '*';
  const cidr = tryParseCidr(t);
  if (!cidr) throw invalid(`allow: "${text}" is not an address, a CIDR or *`);
  const full = cidr.version === 4 ? 32 : 128;
  return cidr.prefix === full ? formatCidr(cidr).replace(/\/\d+$/, '') : formatCidr(cidr);
}

/**
 * Parses the command-line form of a destination pattern: `*`, `ADDR`, `CIDR`, optionally `:PORT`
 * (IPv6 in brackets then: `[2001:db8::/32]:443`), optionally `/tcp` or `/udp` at the end.
 */
export function parseAllowDestination(text: string): Pick<AllowRule, 'destination' | 'port' | 'transport'> {
  let rest = text.trim();
  let transport: Transport | null = null;
  const proto = /\/(tcp|udp)$/i.exec(rest);
  if (proto?.[1]) {
    transport = proto[1].toLowerCase() as Transport;
    rest = rest.slice(0, -proto[0].length);
  }
  let address = rest;
  let portText: string | null = null;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw invalid(`allow: "${text}" has no closing ]`);
    address = rest.slice(1, close);
    const tail = rest.slice(close + 1);
    if (tail !== '') {
      if (!tail.startsWith(':')) throw invalid(`allow: unexpected "${tail}" in "${text}"`);
      portText = tail.slice(1);
    }
  } else if (rest.split(':').length === 2) {
    const colon = rest.indexOf(':');
    address = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
  }
  let port: number | null = null;
  if (portText !== null) {
    port = Number(portText);
    if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) throw invalid(`allow: bad port "${portText}" in "${text}"`);
  }
  return { destination: normaliseAllowDestination(address === '' ? '*' : address), port, transport };
}

/** Validates and canonicalises a rule; throws SOCKHUNT_E_INPUT. */
export function normaliseAllowRule(rule: AllowRule): AllowRule {
  const process = rule.process.trim();
  if (process === '') throw invalid('allow: the process pattern is empty (use * for every process)');
  if (rule.port !== null && (!Number.isInteger(rule.port) || rule.port < 1 || rule.port > 65535)) {
    throw invalid(`allow: bad port ${rule.port}`);
  }
  if (rule.transport !== null && rule.transport !== 'tcp' && rule.transport !== 'udp') {
    throw invalid(`allow: bad transport ${String(rule.transport)}`);
  }
  if (rule.source !== 'cli' && rule.source !== 'server') throw invalid(`allow: bad source ${String(rule.source)}`);
  return { ...rule, process, destination: normaliseAllowDestination(rule.destination), comment: rule.comment ?? null };
}

interface CompiledRule {
  cidr: Cidr | null;
  port: number | null;
  transport: Transport | null;
}

function compile(rule: AllowRule): CompiledRule {
  return { cidr: rule.destination === '*' ? null : tryParseCidr(rule.destination), port: rule.port, transport: rule.transport };
}

/** Rules indexed by process: a lookup tests only the rules of that process and of `*`. */
export class AllowIndex {
  private readonly byProcess = new Map<string, CompiledRule[]>();
  private readonly anyProcess: CompiledRule[] = [];

  constructor(rules: Iterable<AllowRule> = []) {
    for (const rule of rules) this.add(rule);
  }

  add(rule: AllowRule): void {
    const compiled = compile(rule);
    if (rule.process === '*') {
      this.anyProcess.push(compiled);
      return;
    }
    const list = this.byProcess.get(rule.process);
    if (list) list.push(compiled);
    else this.byProcess.set(rule.process, [compiled]);
  }

  get size(): number {
    let n = this.anyProcess.length;
    for (const list of this.byProcess.values()) n += list.length;
    return n;
  }

  matches(processKey: string, ip: string, port: number, transport: Transport): boolean {
    const own = this.byProcess.get(processKey);
    if (!own && this.anyProcess.length === 0) return false;
    let parsed: ParsedIp | null | undefined;
    const test = (r: CompiledRule): boolean => {
      if (r.port !== null && r.port !== port) return false;
      if (r.transport !== null && r.transport !== transport) return false;
      if (r.cidr === null) return true;
      if (parsed === undefined) parsed = parseIp(ip);
      return parsed !== null && cidrContains(r.cidr, parsed);
    };
    return (own !== undefined && own.some(test)) || this.anyProcess.some(test);
  }
}
