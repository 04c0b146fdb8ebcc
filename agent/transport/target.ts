// Where the agent connects and how it trusts the server: --server, --ca, --pin and --insecure, parsed and
// checked together (usage errors name the option), and the ws client options that enforce them.
//
// Security: `wss://` verifies the server with the system CAs, `--ca FILE`, and/or a pinned certificate
// (`--pin sha256/BASE64`: the SHA-256 of the certificate's DER or of its SubjectPublicKeyInfo). Plain `ws://` is
// accepted only to a loopback address unless `--insecure`. The token is sent only to the server origin it came from.
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import tls from 'node:tls';
import type WebSocket from 'ws';
import { MAX_PAYLOAD } from '../../core/protocol.js';
import { serverOrigin } from '../../store/agent/identity.js';
import { canonicalIp, isLoopback } from '../../core/ip.js';
import { SockhuntError } from '../../core/errors.js';

export interface ServerTarget {
  url: URL;
  /** scheme://host:port: the key of the stored token. */
  origin: string;
  /** PEM bundle from --ca. */
  ca: Buffer | null;
  /** Pinned SHA-256 digests (raw bytes) from --pin. */
  pins: Buffer[];
  insecure: boolean;
}

export interface ServerTargetInput {
  server?: unknown;
  ca?: unknown;
  pin?: unknown;
  insecure?: unknown;
}

function usage(message: string): SockhuntError {
  return new SockhuntError('SOCKHUNT_E_USAGE', message);
}

/** True for `localhost`, 127.0.0.0/8 and ::1 (the only hosts plain ws:// may reach without --insecure). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const ip = canonicalIp(host);
  return ip !== null && isLoopback(ip);
}

/** Parses `sha256/BASE64` (32 bytes); throws SOCKHUNT_E_USAGE. */
export function parsePin(text: string): Buffer {
  const m = /^sha256\/([A-Za-z0-9+/=_-]+)$/.exec(text.trim());
  const bytes = m?.[1] ? Buffer.from(m[1].replace(/-/g, '+').replace(/_/g, '/'), 'base64') : null;
  if (!bytes || bytes.length !== 32) {
    throw usage(`--pin takes sha256/BASE64 (the base64 SHA-256 of the server certificate or of its public key), not ${JSON.stringify(text)}`);
  }
  return bytes;
}

/** The `--pin` value for a certificate (PEM or DER): the SHA-256 of its DER, base64. */
export function certificatePin(der: Buffer): string {
  return `sha256/${createHash('sha256').update(der).digest('base64')}`;
}

/** Validates --server, --ca, --pin and --insecure together; usage errors name the option. */
export function parseServerTarget(input: ServerTargetInput, readFile: (path: string) => Buffer = (p) => readFileSync(p)): ServerTarget {
  if (typeof input.server !== 'string' || input.server.trim() === '') {
    throw usage('--server ws(s)://HOST:PORT is required (the sockhunt server to stream findings to)');
  }
  let url: URL;
  try {
    url = new URL(input.server.trim());
  } catch {
    throw usage(`--server: ${JSON.stringify(input.server)} is not a URL (expected wss://HOST:PORT or ws://127.0.0.1:PORT)`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw usage(`--server: the scheme must be wss:// (or ws:// to a loopback address), not ${url.protocol}//`);
  }
  if (url.username || url.password) throw usage('--server: no user name or password in the URL (the agent authenticates with its token)');
  if (url.hash) throw usage('--server: the URL may not have a #fragment');
  if (!url.hostname) throw usage('--server: the URL has no host');
  // The server takes agents at /ws; a URL without a path means that one.
  if (url.pathname === '/') url.pathname = '/ws';
  const pinTexts = input.pin === undefined ? [] : Array.isArray(input.pin) ? input.pin : [input.pin];
  const pins = pinTexts.map((p) => parsePin(String(p)));
  const insecure = input.insecure === true;
  let ca: Buffer | null = null;
  if (url.protocol === 'ws:') {
    if (typeof input.ca === 'string' || pins.length > 0) throw usage('--ca and --pin need a wss:// server (ws:// has no TLS)');
    if (!isLoopbackHost(url.hostname) && !insecure) {
      throw usage(
        `--server ${url.protocol}//${url.host}: plain ws:// would send findings and the enroll secret in clear text; ` +
          'use wss:// (with --ca FILE or --pin sha256/…), or add --insecure to allow it',
      );
    }
  } else if (typeof input.ca === 'string') {
    try {
      ca = readFile(input.ca);
    } catch (err) {
      throw new SockhuntError('SOCKHUNT_E_INPUT', `--ca ${input.ca}: cannot read the file`, { cause: err });
    }
    if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
      throw new SockhuntError('SOCKHUNT_E_INPUT', `--ca ${input.ca}: no PEM certificate in the file`);
    }
  }
  return { url, origin: serverOrigin(url), ca, pins, insecure };
}

/** SHA-256 of the certificate's DER, and of its SubjectPublicKeyInfo (DER) when it can be read. */
export function certificateDigests(der: Buffer): Buffer[] {
  const digests = [createHash('sha256').update(der).digest()];
  try {
    const spki = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
    digests.push(createHash('sha256').update(spki).digest());
  } catch {
    // an unreadable key: only the DER pin can match
  }
  return digests;
}

function pinMatches(cert: tls.PeerCertificate, pins: readonly Buffer[]): boolean {
  if (!cert.raw) return false;
  return certificateDigests(cert.raw).some((d) => pins.some((p) => p.equals(d)));
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** ws client options for the target: frame limit, CA, and the pin checked before any byte of ours is read back. */
export function webSocketOptions(target: ServerTarget, timeoutMs: number, version: string): WebSocket.ClientOptions {
  const options: WebSocket.ClientOptions = {
    maxPayload: MAX_PAYLOAD,
    handshakeTimeout: timeoutMs,
    followRedirects: false,
    headers: { 'user-agent': `sockhunt-agent/${version}` },
    // An all-zero masking key: ws then masks nothing here and unmasks nothing on the server (about 7% of its CPU
    // at fleet rates). Masking guards proxies against bytes a hostile web page chooses; an agent sends only
    // JSON text, which never holds a raw CR or LF, so no frame of it can be read as an HTTP request or reply.
    generateMask: zeroMask,
  };
  if (target.url.protocol !== 'wss:') return options;
  if (target.ca) options.ca = target.ca;
  if (target.pins.length > 0) {
    // With only a pin, the chain is not checked (a self-signed server certificate is the usual case): the pin is.
    options.rejectUnauthorized = target.ca !== null;
    const pins = target.pins;
    options.createConnection = ((opts: tls.ConnectionOptions & { host?: string; path?: string }) => {
      const host = opts.host ?? '';
      const socket = tls.connect({
        ...opts,
        path: undefined,
        servername: opts.servername ?? (isIP(host) ? '' : host),
        rejectUnauthorized: target.ca !== null,
      });
      socket.once('secureConnect', () => {
        const cert = socket.getPeerCertificate(false);
        if (!cert || !pinMatches(cert, pins)) {
          const seen = cert?.raw ? certificatePin(cert.raw) : 'no certificate';
          socket.destroy(new Error(`the server certificate does not match --pin (it is ${seen})`));
        }
      });
      return socket;
    }) as unknown as WebSocket.ClientOptions['createConnection'];
  }
  return options;
}
