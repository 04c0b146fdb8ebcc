// The agent's configuration: defaults, then a YAML or JSON file (--config FILE, else /etc/sockhunt/sockhunt.yaml
// when it exists), then command-line options. Unknown keys are an error that names the key.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SockhuntError } from '../core/errors.js';
import { parseDuration } from '../core/duration.js';
import { DEFAULT_INTERNAL_NETWORKS, tryParseCidr } from '../core/ip.js';

export const DEFAULT_CONFIG_PATH = '/etc/sockhunt/sockhunt.yaml';

const duration = (what: string) =>
  z.union([z.string(), z.number().int().nonnegative()]).transform((v, ctx) => {
    if (typeof v === 'number') return v;
    try {
      return parseDuration(v, what);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

const cidr = z.string().refine((v) => tryParseCidr(v) !== null, { message: 'not an IP address or CIDR' });

const detectorConfig = z.record(z.string(), z.unknown());

export const ConfigSchema = z.strictObject({
  /** Time between samples. */
  interval: duration('interval').default(1000),
  netns: z.enum(['all', 'self']).default('all'),
  collector: z.enum(['auto', 'linux', 'linux-proc', 'systeminformation', 'node-netstat']).default('auto'),
  /** Networks treated as internal; the host's own interface subnets are always added. */
  internal_networks: z.array(cidr).default([...DEFAULT_INTERNAL_NETWORKS]),
  /** Read /proc/net/nf_conntrack for connections that left no socket behind. */
  conntrack: z.boolean().default(true),
  /** Name destinations from the DNS responses this host receives (a packet socket; needs CAP_NET_RAW). */
  dns_names: z.boolean().default(true),
  history: z
    .strictObject({
      retention: duration('history.retention').default(24 * 3_600_000),
      max_rows: z.number().int().positive().default(1_500_000),
    })
    .prefault({}),
  findings: z
    .strictObject({
      /** One finding per detector, process and destination per window; repeats update its count. */
      suppression_window: duration('findings.suppression_window').default(3_600_000),
      retention: duration('findings.retention').default(30 * 86_400_000),
    })
    .prefault({}),
  /** The durable queue of findings for the server; when full, the lowest risk goes first. */
  outbox: z
    .strictObject({
      max_rows: z.number().int().positive().default(100_000),
      max_bytes: z.number().int().positive().default(64 * 1024 * 1024),
    })
    .prefault({}),
  /** Per-detector settings: `enabled: false`, or parameter overrides (see `docs/detectors.md`). */
  detectors: z.record(z.string(), detectorConfig).default({}),
});

export type Config = z.infer<typeof ConfigSchema>;

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = i.path.join('.');
      if (i.code === 'unrecognized_keys') {
        const keys = i.keys.map((k) => (path ? `${path}.${k}` : k));
        return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${k}'`).join(', ')}`;
      }
      return `${path ? `'${path}': ` : ''}${i.message}`;
    })
    .join('; ');
}

/** Validates a parsed configuration object (from a file or the server). */
export function parseConfig(value: unknown, source = 'configuration'): Config {
  const result = ConfigSchema.safeParse(value ?? {});
  if (!result.success) throw new SockhuntError('SOCKHUNT_E_CONFIG', `${source}: ${describeIssues(result.error)}`);
  return result.data;
}

/** Loads --config FILE, else the default path when it exists, else the defaults. */
export function loadConfig(path?: string): { config: Config; path: string | null } {
  const file = path ?? (existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : null);
  if (!file) return { config: parseConfig({}), path: null };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SockhuntError('SOCKHUNT_E_CONFIG', `cannot read config file ${file}`, { cause: err });
  }
  let value: unknown;
  try {
    value = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new SockhuntError('SOCKHUNT_E_CONFIG', `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) {
    throw new SockhuntError('SOCKHUNT_E_CONFIG', `config file ${file} must hold a mapping of settings`);
  }
  return { config: parseConfig(value, `config file ${file}`), path: file };
}
