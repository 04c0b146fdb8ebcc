// The one list of detectors, and the validation of their parameters from configuration overrides.
import { SockhuntError } from '../../core/errors.js';
import { parseDuration } from '../../core/duration.js';
import type { DetectContext, Detector, FindingDraft, ParamSpec } from './types.js';
import { firstSeen } from './first-seen.js';
import { nonstandardPort } from './nonstandard-port.js';
import { beacon } from './beacon.js';
import { scan } from './scan.js';
import { dns } from './dns.js';
import { miner } from './miner.js';
import { rate } from './rate.js';

/** Detectors differ in their params type; the registry erases it and resolveParams restores the values. */
export type AnyDetector = Detector<any>;

export const DETECTORS: readonly AnyDetector[] = [firstSeen, nonstandardPort, beacon, scan, dns, miner, rate];

export const DETECTOR_IDS: readonly string[] = DETECTORS.map((d) => d.spec.id);

export function getDetector(id: string): AnyDetector | undefined {
  return DETECTORS.find((d) => d.spec.id === id);
}

function bad(detector: string, name: string, spec: ParamSpec, value: unknown, why: string): SockhuntError {
  return new SockhuntError(
    'SOCKHUNT_E_CONFIG',
    `detectors.${detector}.${name}: ${why} (expected ${spec.type}${spec.min !== undefined ? `, min ${spec.min}` : ''}` +
      `${spec.max !== undefined ? `, max ${spec.max}` : ''}; got ${JSON.stringify(value)})`,
  );
}

function checkNumber(detector: string, name: string, spec: ParamSpec, value: unknown, integer: boolean): number {
  let n = value;
  // *Ms params take a duration as the CLI and the rest of the configuration do ("45s", "10m", "1h30m")
  if (typeof n === 'string' && name.endsWith('Ms')) {
    try {
      n = parseDuration(n);
    } catch {
      throw bad(detector, name, spec, value, 'not a number or a duration (e.g. 500ms, 45s, 10m, 24h, 1h30m)');
    }
  }
  if (typeof n !== 'number' || !Number.isFinite(n)) throw bad(detector, name, spec, value, 'not a number');
  if (integer && !Number.isInteger(n)) throw bad(detector, name, spec, value, 'not an integer');
  if (spec.min !== undefined && n < spec.min) throw bad(detector, name, spec, value, 'too small');
  if (spec.max !== undefined && n > spec.max) throw bad(detector, name, spec, value, 'too large');
  return n;
}

function checkParam(detector: string, name: string, spec: ParamSpec, value: unknown): unknown {
  switch (spec.type) {
    case 'number':
      return checkNumber(detector, name, spec, value, false);
    case 'integer':
      return checkNumber(detector, name, spec, value, true);
    case 'boolean':
      if (typeof value !== 'boolean') throw bad(detector, name, spec, value, 'not a boolean');
      return value;
    case 'string':
      if (typeof value !== 'string') throw bad(detector, name, spec, value, 'not a string');
      return value;
    case 'string[]':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
        throw bad(detector, name, spec, value, 'not a list of strings');
      }
      return [...value];
    case 'number[]':
      if (!Array.isArray(value)) throw bad(detector, name, spec, value, 'not a list of numbers');
      return value.map((v) => checkNumber(detector, name, spec, v, false));
  }
}

/** Defaults merged with overrides; an unknown or ill-typed parameter is a SOCKHUNT_E_CONFIG error naming it. */
export function resolveParams<P>(detector: Detector<P>, overrides: unknown = {}): P {
  const id = detector.spec.id;
  if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) {
    throw new SockhuntError('SOCKHUNT_E_CONFIG', `detectors.${id}: expected a mapping of parameters`);
  }
  const specs = detector.spec.params as Record<string, ParamSpec>;
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) out[name] = checkParam(id, name, spec, spec.default);
  for (const [name, value] of Object.entries(overrides)) {
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec) {
      throw new SockhuntError(
        'SOCKHUNT_E_CONFIG',
        `detectors.${id}: unknown parameter "${name}" (known: ${Object.keys(specs).join(', ')})`,
      );
    }
    out[name] = checkParam(id, name, spec, value);
  }
  return out as P;
}

export interface ConfiguredDetector {
  detector: AnyDetector;
  params: Record<string, unknown>;
}

/**
 * Resolves the `detectors:` section of the configuration: `{ <id>: { enabled?: boolean, <param>: value } }`.
 * Every registered detector is returned unless disabled; an unknown detector id is an error naming it.
 */
export function configureDetectors(settings: unknown = {}): ConfiguredDetector[] {
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) {
    throw new SockhuntError('SOCKHUNT_E_CONFIG', 'detectors: expected a mapping of detector ids');
  }
  const entries = settings as Record<string, unknown>;
  for (const id of Object.keys(entries)) {
    if (!getDetector(id)) {
      throw new SockhuntError('SOCKHUNT_E_CONFIG', `detectors: unknown detector "${id}" (known: ${DETECTOR_IDS.join(', ')})`);
    }
  }
  const out: ConfiguredDetector[] = [];
  for (const detector of DETECTORS) {
    const raw = entries[detector.spec.id] ?? {};
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new SockhuntError('SOCKHUNT_E_CONFIG', `detectors.${detector.spec.id}: expected a mapping of parameters`);
    }
    const { enabled, ...overrides } = raw as Record<string, unknown>;
    if (enabled !== undefined && typeof enabled !== 'boolean') {
      throw new SockhuntError('SOCKHUNT_E_CONFIG', `detectors.${detector.spec.id}.enabled: expected true or false`);
    }
    const params = resolveParams(detector, overrides) as Record<string, unknown>;
    if (enabled !== false) out.push({ detector, params });
  }
  return out;
}

export interface DetectionResult {
  drafts: FindingDraft[];
  /** A detector that throws loses its own findings only. */
  errors: Array<{ detector: string; error: unknown }>;
}

export function runDetectors(ctx: DetectContext, configured: readonly ConfiguredDetector[]): DetectionResult {
  const result: DetectionResult = { drafts: [], errors: [] };
  for (const { detector, params } of configured) {
    try {
      result.drafts.push(...detector.detect(ctx, params));
    } catch (error) {
      result.errors.push({ detector: detector.spec.id, error });
    }
  }
  return result;
}
