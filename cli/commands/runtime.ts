// What learn, hunt and baseline share: configuration, the agent database and the host's identity.
import { hostname } from 'node:os';
import { type Config, loadConfig } from '../../agent/config.js';
import { parseDuration } from '../../core/duration.js';
import { openAgentStore, defaultAgentDbPath, type AgentStore } from '../../store/agent/index.js';
import { DnsNames } from '../../collectors/dns-names.js';
import { isSockhuntError } from '../../core/errors.js';
import type { OptionSpec } from './command.js';

export const STORE_OPTIONS: Record<string, OptionSpec> = {
  db: { type: 'string', description: 'agent database (default: $SOCKHUNT_HOME/agent.db, /var/lib/sockhunt/agent.db as root)', valueName: 'PATH' },
  config: { type: 'string', description: 'YAML or JSON settings (default: /etc/sockhunt/sockhunt.yaml when it exists)', valueName: 'FILE' },
};

export const SAMPLING_OPTIONS: Record<string, OptionSpec> = {
  ...STORE_OPTIONS,
  interval: { type: 'string', description: 'time between samples (default 1s)', valueName: 'DURATION' },
};

export interface Runtime {
  config: Config;
  store: AgentStore;
  host: { name: string; id: string };
  dbPath: string;
}

export function loadRuntimeConfig(values: Record<string, unknown>): Config {
  const { config } = loadConfig(values.config as string | undefined);
  if (typeof values.interval === 'string') config.interval = Math.max(10, parseDuration(values.interval, 'interval'));
  return config;
}

export function openRuntime(values: Record<string, unknown>, options: { quickCheck?: boolean } = {}): Runtime {
  const config = loadRuntimeConfig(values);
  const dbPath = (values.db as string | undefined) ?? defaultAgentDbPath();
  const store = openAgentStore(dbPath, {
    quickCheck: options.quickCheck ?? true,
    history: { maxAgeMs: config.history.retention, maxRows: config.history.max_rows },
  });
  return { config, store, dbPath, host: { name: hostname(), id: store.db.agentId() } };
}

/**
 * The DNS tap that names destinations, when the configuration asks for it (`dns_names`, default on) and the host
 * allows it; otherwise null, after one line saying why (it needs CAP_NET_RAW and the native addon).
 */
export function openDestinationNames(config: Config, warn: (line: string) => void): DnsNames | null {
  if (!config.dns_names || process.platform !== 'linux') return null;
  try {
    return DnsNames.open();
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    warn(`sockhunt: ${text}${isSockhuntError(err) ? ` [${err.code}]` : ''}; set dns_names: false to silence this`);
    return null;
  }
}

/** Resolves on SIGINT/SIGTERM so that a run stops cleanly and still reports what it found. */
export function stopSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}
