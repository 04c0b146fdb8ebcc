import { describe, expect, it } from 'vitest';
import { backoffDelay, closeName } from '../../../agent/transport/session.js';
import { certificatePin, isLoopbackHost, parsePin, parseServerTarget } from '../../../agent/transport/target.js';
import { isSockhuntError } from '../../../core/errors.js';

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isSockhuntError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  throw new Error('no error');
}

const PIN = `sha256/${Buffer.alloc(32, 7).toString('base64')}`;
const PEM = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

describe('server target: TLS and the loopback rule', () => {
  it('accepts plain ws:// to loopback only', () => {
    for (const url of ['ws://127.0.0.1:8443', 'ws://localhost:1', 'ws://[::1]:9000/agent', 'ws://127.9.9.9:80']) {
      expect(parseServerTarget({ server: url }).url.href).toContain('ws://');
    }
    for (const url of ['ws://198.51.100.7:8443', 'ws://server.example:80', 'ws://[2001:db8::1]:80']) {
      expect(usageError(() => parseServerTarget({ server: url }))).toMatch(/^SOCKHUNT_E_USAGE: .*clear text.*--insecure/);
    }
    expect(parseServerTarget({ server: 'ws://198.51.100.7:8443', insecure: true }).insecure).toBe(true);
  });

  it('defaults the path to /ws, where the server takes agents', () => {
    expect(parseServerTarget({ server: 'wss://server.example:8443' }).url.href).toBe('wss://server.example:8443/ws');
    expect(parseServerTarget({ server: 'wss://server.example:8443/' }).url.href).toBe('wss://server.example:8443/ws');
    expect(parseServerTarget({ server: 'wss://server.example/agents/ws' }).url.pathname).toBe('/agents/ws');
  });

  it('takes wss:// with the system CAs, a CA file, or pins', () => {
    expect(parseServerTarget({ server: 'wss://server.example' })).toMatchObject({ origin: 'wss://server.example:443', ca: null, pins: [] });
    const t = parseServerTarget({ server: 'wss://server.example:8443', ca: '/ca.pem', pin: [PIN] }, () => PEM);
    expect(t.ca?.equals(PEM)).toBe(true);
    expect(t.pins).toHaveLength(1);
    expect(t.pins[0]!.equals(Buffer.alloc(32, 7))).toBe(true);
  });

  it('explains every bad combination as a usage or input error', () => {
    expect(usageError(() => parseServerTarget({}))).toMatch(/--server .* is required/);
    expect(usageError(() => parseServerTarget({ server: 'not a url' }))).toMatch(/not a URL/);
    expect(usageError(() => parseServerTarget({ server: 'https://server.example' }))).toMatch(/scheme must be wss/);
    expect(usageError(() => parseServerTarget({ server: 'wss://u:p@server.example' }))).toMatch(/no user name or password/);
    expect(usageError(() => parseServerTarget({ server: 'ws://127.0.0.1:1', pin: [PIN] }))).toMatch(/need a wss:\/\/ server/);
    expect(usageError(() => parseServerTarget({ server: 'ws://127.0.0.1:1', ca: '/ca.pem' }))).toMatch(/need a wss:\/\/ server/);
    expect(usageError(() => parseServerTarget({ server: 'wss://s.example', pin: ['sha1/abc'] }))).toMatch(/--pin takes sha256\/BASE64/);
    expect(usageError(() => parseServerTarget({ server: 'wss://s.example', pin: ['sha256/AAAA'] }))).toMatch(/--pin takes/);
    expect(
      usageError(() =>
        parseServerTarget({ server: 'wss://s.example', ca: '/nope.pem' }, () => {
          throw new Error('ENOENT');
        }),
      ),
    ).toMatch(/^SOCKHUNT_E_INPUT: --ca \/nope.pem: cannot read/);
    expect(usageError(() => parseServerTarget({ server: 'wss://s.example', ca: '/x' }, () => Buffer.from('hello')))).toMatch(/no PEM certificate/);
  });

  it('pins are sha256/ base64 (standard or url alphabet) of 32 bytes', () => {
    const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => 250 - i));
    expect(parsePin(`sha256/${bytes.toString('base64')}`).equals(bytes)).toBe(true);
    expect(parsePin(`sha256/${bytes.toString('base64url')}`).equals(bytes)).toBe(true);
    expect(certificatePin(Buffer.from('der'))).toMatch(/^sha256\/[A-Za-z0-9+/]{43}=$/);
  });

  it('knows loopback hosts', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('LOCALHOST')).toBe(true);
    expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopbackHost('192.0.2.1')).toBe(false);
    expect(isLoopbackHost('localhost.example')).toBe(false);
  });
});

describe('backoff', () => {
  it('is full jitter within [0, min(cap, base·2^attempt))', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(60_000, 1000 * 2 ** attempt);
      expect(backoffDelay(attempt, 1000, 60_000, () => 0)).toBe(0);
      const top = backoffDelay(attempt, 1000, 60_000, () => 0.999_999_9);
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThanOrEqual(ceiling - 1);
      expect(backoffDelay(attempt, 1000, 60_000, () => 0.5)).toBe(Math.floor(ceiling / 2));
    }
    expect(backoffDelay(1e9, 1000, 60_000, () => 0.999)).toBeLessThan(60_000);
    expect(backoffDelay(-3, 1000, 60_000, () => 0.999)).toBeLessThan(1000);
    expect(backoffDelay(3, 1000, 60_000, () => 7)).toBeLessThan(8000);
  });

  it('spreads: many agents reconnecting do not pick the same delay', () => {
    const delays = new Set(Array.from({ length: 200 }, () => backoffDelay(5, 1000, 60_000)));
    expect(delays.size).toBeGreaterThan(150);
    for (const d of delays) expect(d).toBeLessThan(32_000);
  });

  it('names close codes', () => {
    expect(closeName(4002)).toBe('REVOKED');
    expect(closeName(1006)).toBe('ABNORMAL');
    expect(closeName(4999)).toBe('4999');
  });
});
