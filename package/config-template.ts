// The configuration file `sockhunt install` writes: every setting present, commented out, showing its default —
// taken from the configuration schema and the detector registry, so that it cannot drift from them.
// Conventions (those of sshd_config): `# text` explains, `#key: value` is a setting, `#  key: value` a nested one.
import { stringify } from 'yaml';
import { ConfigSchema, parseConfig } from '../agent/config.js';
import { DETECTORS } from '../agent/detect/index.js';

/** What each top-level setting does (the schema's own comments, for the file's reader). */
const DESCRIPTIONS: Record<string, string> = {
  interval: 'Time between samples.',
  netns: 'all: every network namespace found among processes; self: only the agent\'s own.',
  collector: 'auto, linux (netlink sock_diag, else /proc), linux-proc, systeminformation or node-netstat.',
  internal_networks: 'Networks treated as internal; the subnets of the host\'s own interfaces are always added.',
  conntrack: 'Read /proc/net/nf_conntrack for connections that left no socket behind.',
  dns_names: 'Name destinations from the DNS responses this host receives (UDP, the agent\'s own namespace; needs CAP_NET_RAW).',
  history: 'Connection history kept for the detectors: how long, and at most how many rows.',
  findings: 'One finding per detector, process and destination per suppression window; repeats update its count.',
  detectors: 'Per detector: `enabled: false` turns it off; parameters as described in docs/detectors.md.',
};

/** Settings given in milliseconds by the schema, written as durations. */
const DURATIONS = new Set(['interval', 'history.retention', 'findings.suppression_window', 'findings.retention']);

const UNITS: Array<[string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/** Exact duration text: the largest unit that divides `ms` (detector parameters take ms, s, m and h only). */
export function exactDuration(ms: number, allowDays = true): string {
  for (const [unit, size] of UNITS) {
    if ((unit !== 'd' || allowDays) && ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function scalar(value: unknown): string {
  return stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trimEnd();
}

function render(path: string, value: unknown): string {
  return DURATIONS.has(path) && typeof value === 'number' ? exactDuration(value) : scalar(value);
}

function detectorLines(): string[] {
  const lines = ['#detectors:'];
  for (const d of DETECTORS) {
    lines.push(`#  ${d.spec.id}:  # ${d.spec.name}`, '#    enabled: true');
    for (const [name, spec] of Object.entries(d.spec.params as Record<string, { default: unknown; description: string }>)) {
      const value = name.endsWith('Ms') && typeof spec.default === 'number' ? exactDuration(spec.default, false) : scalar(spec.default);
      lines.push(`#    ${name}: ${value}  # ${spec.description.replace(/\s+/g, ' ')}`);
    }
  }
  return lines;
}

/** The text of /etc/sockhunt/sockhunt.yaml as `sockhunt install` writes it. */
export function renderDefaultConfig(installedBy: string): string {
  const defaults = parseConfig({}) as Record<string, unknown>;
  const lines = [
    `# sockhunt agent configuration, written by ${installedBy}; install, upgrade and uninstall keep it.`,
    '# Every setting is shown commented out with its default: remove the leading # of a setting to change it.',
    '# Unknown keys are an error that names the key. Durations take 500ms, 45s, 10m, 24h, 7d.',
  ];
  for (const key of Object.keys(ConfigSchema.shape)) {
    lines.push('');
    if (DESCRIPTIONS[key]) lines.push(`# ${DESCRIPTIONS[key]}`);
    const value = defaults[key];
    if (key === 'detectors') {
      lines.push(...detectorLines());
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      lines.push(`#${key}:`);
      for (const [sub, v] of Object.entries(value)) lines.push(`#  ${sub}: ${render(`${key}.${sub}`, v)}`);
    } else {
      lines.push(`#${key}: ${render(key, value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
