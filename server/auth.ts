// Secrets and tokens. Only SHA-256 hashes are stored: the enroll secret, the API token and every agent token.
// Comparisons are on fixed-length digests with timingSafeEqual, so their time says nothing about the secret.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerStore } from '../store/server/contract.js';

/** Hex SHA-256 of a secret (what the database holds). */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time check of a presented secret against a stored hex SHA-256. */
export function secretMatches(presented: string, storedHash: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = Buffer.from(storedHash, 'hex');
  return b.length === a.length && timingSafeEqual(a, b);
}

/** 32 random bytes, base64url: an agent token, a generated enroll secret or API token. */
export function mintSecret(): string {
  return randomBytes(32).toString('base64url');
}

export type SecretKind = 'enroll_secret' | 'api_token';

export interface ResolvedSecret {
  hash: string;
  /** Where it came from: given now (flag or env), kept from an earlier run, or generated now. */
  source: 'given' | 'stored' | 'generated';
  /** The plain text, only when generated now: print it once. */
  generated?: string;
}

const SETTING: Record<SecretKind, string> = { enroll_secret: 'enroll_secret_sha256', api_token: 'api_token_sha256' };

/**
 * The secret to use: the given one (its hash replaces the stored one), else the stored hash from an earlier
 * run, else a new one (hash stored, plain text returned once).
 */
export async function resolveSecret(store: ServerStore, kind: SecretKind, given: string | undefined): Promise<ResolvedSecret> {
  const key = SETTING[kind];
  if (given !== undefined) {
    const hash = hashSecret(given);
    await store.setSetting(key, hash);
    return { hash, source: 'given' };
  }
  const stored = await store.getSetting(key);
  if (stored !== null && /^[0-9a-f]{64}$/.test(stored)) return { hash: stored, source: 'stored' };
  const secret = mintSecret();
  const hash = hashSecret(secret);
  await store.setSetting(key, hash);
  return { hash, source: 'generated', generated: secret };
}

export type HelloAuth = { token: string } | { enroll_secret: string };

export type AuthOutcome =
  | { ok: true; enrolled: boolean; token?: string }
  | { ok: false; close: 'UNAUTHENTICATED' | 'REVOKED' | 'IDENTITY_MISMATCH'; reason: string };

/**
 * Decides a hello's credentials. Enrollment mints a token (returned once) and stores the host; a token must
 * belong to the agent id it is presented with. Enrollment never takes over an id that is already enrolled.
 */
export async function authenticate(
  store: ServerStore,
  enrollSecretHash: string | null,
  hello: { agentId: string; auth: HelloAuth },
): Promise<AuthOutcome> {
  if ('token' in hello.auth) {
    const hash = hashSecret(hello.auth.token);
    const host = await store.findHostByTokenHash(hash);
    if (!host) {
      const known = await store.findHost(hello.agentId);
      if (known?.revoked) return { ok: false, close: 'REVOKED', reason: 'this agent was revoked' };
      return { ok: false, close: 'UNAUTHENTICATED', reason: known ? 'agent id enrolled with a different token' : 'unknown token' };
    }
    if (host.agentId !== hello.agentId) return { ok: false, close: 'IDENTITY_MISMATCH', reason: 'the token belongs to another agent id' };
    if (host.revoked) return { ok: false, close: 'REVOKED', reason: 'this agent was revoked' };
    return { ok: true, enrolled: false };
  }
  if (enrollSecretHash === null) return { ok: false, close: 'UNAUTHENTICATED', reason: 'enrollment is disabled on this server' };
  if (!secretMatches(hello.auth.enroll_secret, enrollSecretHash)) return { ok: false, close: 'UNAUTHENTICATED', reason: 'wrong enroll secret' };
  const existing = await store.findHost(hello.agentId);
  if (existing?.revoked) return { ok: false, close: 'REVOKED', reason: 'this agent id was revoked' };
  if (existing) return { ok: false, close: 'UNAUTHENTICATED', reason: 'agent id already enrolled: present its token' };
  return { ok: true, enrolled: true, token: mintSecret() };
}
