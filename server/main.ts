// Starts the aggregation server on an address: builds it (server/app.ts) and listens. Used by `sockhunt server`
// and by anything that embeds the server (e.g. `sockhunt up`).
import type { AddressInfo } from 'node:net';
import { SockhuntError } from '../core/errors.js';
import { buildServer, type ServerOptions, type SockhuntServer } from './app.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface RunningServer extends SockhuntServer {
  /** http(s)://host:port */
  readonly url: string;
  readonly address: AddressInfo;
}

/** `HOST:PORT`, `[V6]:PORT` or `:PORT` (all interfaces) → address; SOCKHUNT_E_USAGE when malformed. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port > 65535) {
    throw new SockhuntError('SOCKHUNT_E_USAGE', `--listen takes HOST:PORT (e.g. 127.0.0.1:8700 or [::1]:8700), not ${JSON.stringify(text)}`);
  }
  const host = m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]!);
  return { host, port };
}

/** Builds and listens. A port in use or an address we cannot bind is SOCKHUNT_E_RUNTIME (exit 3). */
export async function startServer(opts: ServerOptions, listen: ListenAddress): Promise<RunningServer> {
  const built = buildServer(opts);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const where = `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
      const why =
        err.code === 'EADDRINUSE'
          ? `port ${where} is in use by another process (choose another with --listen)`
          : err.code === 'EACCES'
            ? `not allowed to listen on ${where} (ports below 1024 need privileges)`
            : err.code === 'EADDRNOTAVAIL'
              ? `${listen.host} is not an address of this host`
              : `cannot listen on ${where}`;
      reject(new SockhuntError('SOCKHUNT_E_RUNTIME', why, { cause: err }));
    };
    built.server.once('error', onError);
    built.server.listen(listen.port, listen.host, () => {
      built.server.off('error', onError);
      resolve();
    });
  }).catch(async (err: unknown) => {
    await built.close();
    throw err;
  });
  const address = built.server.address() as AddressInfo;
  const scheme = opts.tls ? 'https' : 'http';
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return Object.assign(built, { url: `${scheme}://${host}:${address.port}`, address });
}
