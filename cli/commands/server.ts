// `sockhunt server`: the aggregation server (agent ingest over WebSocket, REST API, web page).
import { readFileSync } from 'node:fs';
import { SockhuntError } from '../../core/errors.js';
import { parseDuration, formatDuration } from '../../core/duration.js';
import { escapeForTerminal, safeJson } from '../../core/escape.js';
import { openServerStore } from '../../store/server/index.js';
import { defaultServerDbPath } from '../../store/server/db.js';
import { resolveSecret, type ResolvedSecret } from '../../server/auth.js';
import { parseListen, startServer } from '../../server/main.js';
import { DEFAULT_MAX_PENDING_PER_IP } from '../../server/app.js';
import type { Log } from '../../server/ingest.js';
import type { ServerStore } from '../../store/server/contract.js';
import { stopSignal } from './runtime.js';
import type { Command, CommandIo } from './command.js';

declare const SOCKHUNT_VERSION: string;
const VERSION = typeof SOCKHUNT_VERSION === 'string' ? SOCKHUNT_VERSION : '0.0.0-dev';

const RETENTION_SETTING = 'retention_ms';
const DEFAULT_RETENTION_MS = 90 * 86_400_000;

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SockhuntError('SOCKHUNT_E_INPUT', `--${what} ${path}: cannot read it`, { cause: err });
  }
}

function stderrLog(io: CommandIo): Log {
  return (level, message, fields) => {
    const extra = fields
      ? Object.entries(fields)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => ` ${k}=${typeof v === 'string' && /^[\w.:/@-]+$/.test(v) ? v : safeJson(v)}`)
          .join('')
      : '';
    io.err(`${new Date().toISOString()} ${level} ${escapeForTerminal(message)}${escapeForTerminal(extra)}\n`);
  };
}

async function resolveRetention(store: ServerStore, given: unknown): Promise<number> {
  if (typeof given === 'string') {
    const ms = parseDuration(given, 'retention');
    if (ms < 3_600_000) throw new SockhuntError('SOCKHUNT_E_USAGE', '--retention must be at least 1h');
    await store.setSetting(RETENTION_SETTING, String(ms));
    return ms;
  }
  const stored = Number(await store.getSetting(RETENTION_SETTING));
  return Number.isSafeInteger(stored) && stored >= 3_600_000 ? stored : DEFAULT_RETENTION_MS;
}

function announce(io: CommandIo, what: string, flag: string, env: string, s: ResolvedSecret): void {
  if (s.generated !== undefined) {
    io.out(`${what} (shown once; only its hash is kept): ${s.generated}\n`);
  } else if (s.source === 'stored') {
    io.err(`sockhunt server: using the ${what} set before (its hash is stored; --${flag} or $${env} replaces it)\n`);
  }
}

export const serverCommand: Command = {
  name: 'server',
  summary: 'Run the aggregation server: agents stream findings to it; REST API and web page for analysts.',
  usage:
    'sockhunt server [--listen 127.0.0.1:8700] [--db PATH] [--enroll-secret S] [--api-token T] [--tls-cert F --tls-key F] [--retention 90d] [--max-pending-per-ip 256]',
  options: {
    listen: { type: 'string', description: 'address to listen on (default 127.0.0.1:8700; :8700 for all interfaces)', valueName: 'HOST:PORT' },
    db: { type: 'string', description: 'server database (default: $SOCKHUNT_HOME/server.db)', valueName: 'PATH' },
    'enroll-secret': {
      type: 'string',
      description: 'secret agents enroll with (or $SOCKHUNT_ENROLL_SECRET; default: the one set before, else generated and printed once)',
      valueName: 'S',
    },
    'api-token': {
      type: 'string',
      description: 'bearer token of the REST API and web page (or $SOCKHUNT_API_TOKEN; default: as set before, else generated and printed once)',
      valueName: 'T',
    },
    'tls-cert': { type: 'string', description: 'PEM certificate: serve https and wss (needs --tls-key)', valueName: 'FILE' },
    'tls-key': { type: 'string', description: 'PEM private key of --tls-cert', valueName: 'FILE' },
    retention: { type: 'string', description: 'keep findings and audit entries this long (default 90d; kept for later runs)', valueName: 'DURATION' },
    'max-pending-per-ip': {
      type: 'string',
      description: `connections from one address that may wait for their hello at once; more are closed 4009 (default ${DEFAULT_MAX_PENDING_PER_IP})`,
      valueName: 'N',
    },
  },
  async run(values, _positionals, io) {
    const listen = parseListen((values.listen as string | undefined) ?? '127.0.0.1:8700');
    const certPath = values['tls-cert'] as string | undefined;
    const keyPath = values['tls-key'] as string | undefined;
    if ((certPath === undefined) !== (keyPath === undefined)) throw new SockhuntError('SOCKHUNT_E_USAGE', '--tls-cert and --tls-key go together');
    const tls = certPath !== undefined && keyPath !== undefined ? { cert: readPem(certPath, 'tls-cert'), key: readPem(keyPath, 'tls-key') } : undefined;
    const enrollGiven = (values['enroll-secret'] as string | undefined) ?? (process.env.SOCKHUNT_ENROLL_SECRET || undefined);
    const tokenGiven = (values['api-token'] as string | undefined) ?? (process.env.SOCKHUNT_API_TOKEN || undefined);
    for (const [name, v] of [['enroll-secret', enrollGiven], ['api-token', tokenGiven]] as const) {
      if (v !== undefined && (v.length < 16 || v.length > 256)) throw new SockhuntError('SOCKHUNT_E_USAGE', `--${name} must be 16 to 256 characters`);
    }
    const pendingGiven = values['max-pending-per-ip'] as string | undefined;
    const maxPendingPerIp = pendingGiven === undefined ? undefined : Number(pendingGiven);
    if (maxPendingPerIp !== undefined && (!/^\d{1,7}$/.test(pendingGiven!) || maxPendingPerIp < 1)) {
      throw new SockhuntError('SOCKHUNT_E_USAGE', `--max-pending-per-ip takes a whole number from 1 to 9999999, not ${JSON.stringify(pendingGiven)}`);
    }
    const dbPath = (values.db as string | undefined) ?? defaultServerDbPath();
    const log = stderrLog(io);
    // The database gets a thread of its own: commits and checkpoints never hold up the agents' sockets.
    const store = openServerStore(dbPath, { thread: true, warn: (message) => log('warn', message) });
    try {
      const retentionMs = await resolveRetention(store, values.retention);
      const enroll = await resolveSecret(store, 'enroll_secret', enrollGiven);
      const api = await resolveSecret(store, 'api_token', tokenGiven);
      const running = await startServer(
        {
          store,
          enrollSecretHash: enroll.hash,
          apiTokenHash: api.hash,
          ...(tls ? { tls } : {}),
          retentionMs,
          ...(maxPendingPerIp !== undefined ? { maxPendingPerIp } : {}),
          log,
          version: VERSION,
        },
        listen,
      );
      announce(io, 'enroll secret', 'enroll-secret', 'SOCKHUNT_ENROLL_SECRET', enroll);
      announce(io, 'API token', 'api-token', 'SOCKHUNT_API_TOKEN', api);
      const ws = running.url.replace(/^http/, 'ws');
      io.err(
        `sockhunt server: listening on ${running.url} (web page ${running.url}/, agents ${ws}/ws); database ${escapeForTerminal(dbPath)}; retention ${formatDuration(retentionMs)}\n`,
      );
      const stop = stopSignal();
      await new Promise<void>((resolve) => {
        if (stop.signal.aborted) resolve();
        stop.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      stop.dispose();
      io.err('sockhunt server: shutting down\n');
      await running.close();
      return 0;
    } finally {
      await store.close();
    }
  },
};
