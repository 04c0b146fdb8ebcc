import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DETECTORS, DETECTOR_IDS, configureDetectors, resolveParams, runDetectors } from '../../../agent/detect/index.js';
import type { Detector } from '../../../agent/detect/types.js';
import { HUNT_DETECTORS } from '../../../core/finding.js';
import { C2_PORT_LISTS } from '../../../agent/data/c2-ports.js';
import { FALCO_MINER_PORTS, SIGMA_POOL_LISTS } from '../../../agent/data/miner-pools.js';
import { DRL } from '../../../agent/data/attribution.js';
import { isSockhuntError } from '../../../core/errors.js';
import { parseDuration } from '../../../core/duration.js';
import { context } from '../../support/detect.js';
import { SCENARIOS } from './scenarios.js';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isSockhuntError(err) && err.code).toBe('SOCKHUNT_E_CONFIG');
    return (err as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('detector registry', () => {
  it('lists the seven detectors once each, every id matching the file that defines it', () => {
    expect(DETECTOR_IDS).toEqual(['first-seen', 'nonstandard-port', 'beacon', 'scan', 'dns', 'miner', 'rate']);
    for (const id of DETECTOR_IDS) {
      const file = new URL(`../../../agent/detect/${id}.ts`, import.meta.url);
      expect(existsSync(file), id).toBe(true);
      expect(readFileSync(file, 'utf8')).toContain(`id: '${id}'`);
    }
  });

  it('gives every detector complete metadata and valid defaults', () => {
    for (const d of DETECTORS) {
      expect(d.spec.name.length).toBeGreaterThan(3);
      expect(d.spec.description.length).toBeGreaterThan(40);
      expect(d.spec.references.length).toBeGreaterThan(0);
      expect(d.spec.technique.length).toBeGreaterThan(0);
      for (const t of d.spec.technique) expect(t.id).toMatch(/^T\d{4}(\.\d{3})?$/);
      for (const [name, p] of Object.entries(d.spec.params as Record<string, { description: string }>)) {
        expect(p.description.length, `${d.spec.id}.${name}`).toBeGreaterThan(10);
      }
      expect(() => resolveParams(d)).not.toThrow();
      expect(HUNT_DETECTORS).toContain(d.spec.id);
    }
  });

  it('every detector finds its positive scenario (no detector is a stub)', () => {
    for (const d of DETECTORS) expect(d.detect(SCENARIOS[d.spec.id]!(), resolveParams(d)).length, d.spec.id).toBeGreaterThan(0);
  });

  it('every detector is quiet on an empty sample', () => {
    const { drafts, errors } = runDetectors(context(), configureDetectors());
    expect(drafts).toEqual([]);
    expect(errors).toEqual([]);
  });
});

describe('parameter resolution', () => {
  const beacon = DETECTORS.find((d) => d.spec.id === 'beacon')!;

  it('merges overrides over defaults', () => {
    const p = resolveParams(beacon, { minStarts: 6, webPorts: [443] }) as Record<string, unknown>;
    expect(p['minStarts']).toBe(6);
    expect(p['webPorts']).toEqual([443]);
    expect(p['targetStarts']).toBe(20);
  });

  it('names an unknown parameter', () => {
    expect(configError(() => resolveParams(beacon, { minStart: 6 }))).toMatch(/detectors\.beacon: unknown parameter "minStart" \(known: minStarts,/);
    expect(configError(() => resolveParams(beacon, { constructor: 1 }))).toMatch(/unknown parameter "constructor"/);
  });

  it('names an ill-typed or out-of-range parameter', () => {
    expect(configError(() => resolveParams(beacon, { minStarts: 'six' }))).toMatch(/detectors\.beacon\.minStarts: not a number/);
    expect(configError(() => resolveParams(beacon, { minStarts: 4.5 }))).toMatch(/minStarts: not an integer/);
    expect(configError(() => resolveParams(beacon, { minStarts: 1 }))).toMatch(/minStarts: too small/);
    expect(configError(() => resolveParams(beacon, { maxRandomChance: 2 }))).toMatch(/maxRandomChance: too large/);
    expect(configError(() => resolveParams(beacon, { webPorts: [443, 'x'] }))).toMatch(/webPorts: not a number/);
    const dns = DETECTORS.find((d) => d.spec.id === 'dns')!;
    expect(configError(() => resolveParams(dns, { extraResolverNames: 'dnsproxy' }))).toMatch(/extraResolverNames: not a list of strings/);
    const rate = DETECTORS.find((d) => d.spec.id === 'rate')!;
    expect(configError(() => resolveParams(rate, { includeLoopback: 'yes' }))).toMatch(/includeLoopback: not a boolean/);
  });

  it('accepts durations for *Ms parameters', () => {
    expect((resolveParams(beacon, { persistenceMs: '10m' }) as Record<string, unknown>)['persistenceMs']).toBe(600_000);
    expect(configError(() => resolveParams(beacon, { persistenceMs: 'soon' }))).toMatch(/persistenceMs: not a number/);
  });

  it('reads *Ms durations with the CLI and configuration parser (core/duration.ts)', () => {
    const ms = (value: unknown): unknown => (resolveParams(beacon, { persistenceMs: value }) as Record<string, unknown>)['persistenceMs'];
    for (const text of ['500ms', '45s', '10m', '24h', '1d', '1h30m', '2m30s', ' 1.5h ', '1h0m0s250ms']) {
      expect(ms(text), text).toBe(parseDuration(text));
    }
    expect(ms('1h30m')).toBe(5_400_000);
    expect(ms('500ms')).toBe(500);
    expect(ms(120_000)).toBe(120_000); // a plain number is milliseconds, as before
    for (const bad of ['90', '1h30', 'h', '', '1 h', '-5s', '5sec']) {
      expect(configError(() => ms(bad)), bad).toMatch(/persistenceMs: not a number or a duration/);
    }
    // the min still applies to a duration (the rate window is at least 1 s)
    const rate = DETECTORS.find((d) => d.spec.id === 'rate')!;
    expect((resolveParams(rate, { windowMs: '1m30s' }) as Record<string, unknown>)['windowMs']).toBe(90_000);
    expect(configError(() => resolveParams(rate, { windowMs: '999ms' }))).toMatch(/windowMs: too small/);
    // only *Ms parameters take a duration
    expect(configError(() => resolveParams(beacon, { minStarts: '10s' }))).toMatch(/minStarts: not a number/);
  });

  it('configures from the detectors section: enabled flags, overrides, unknown ids', () => {
    const all = configureDetectors({});
    expect(all.map((c) => c.detector.spec.id)).toEqual([...DETECTOR_IDS]);
    const some = configureDetectors({ rate: { enabled: false }, beacon: { minStarts: 8 } });
    expect(some.map((c) => c.detector.spec.id)).not.toContain('rate');
    expect(some.find((c) => c.detector.spec.id === 'beacon')!.params['minStarts']).toBe(8);
    expect(configError(() => configureDetectors({ beacons: {} }))).toMatch(/unknown detector "beacons"/);
    expect(configError(() => configureDetectors({ rate: { enabled: 'no' } }))).toMatch(/detectors\.rate\.enabled/);
    expect(configError(() => configureDetectors({ rate: [] }))).toMatch(/detectors\.rate: expected a mapping/);
  });

  it('isolates a detector that throws', () => {
    const broken: Detector = {
      spec: { id: 'broken', name: 'broken', technique: [], description: '', references: [], params: {} },
      detect: () => {
        throw new Error('boom');
      },
    };
    const ctx = SCENARIOS.scan!();
    const { drafts, errors } = runDetectors(ctx, [{ detector: broken, params: {} }, ...configureDetectors({})]);
    expect(errors).toEqual([{ detector: 'broken', error: new Error('boom') }]);
    expect(drafts.some((d) => d.detector === 'scan')).toBe(true);
  });
});

describe('shipped data and its attribution', () => {
  const sigma = new URL('../../../../shared/sigma/', import.meta.url);

  it('carries title, id, author, link and licence for every list', () => {
    for (const l of [...C2_PORT_LISTS, ...SIGMA_POOL_LISTS]) {
      expect(l.rule.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(l.rule.author.length).toBeGreaterThan(2);
      expect(l.rule.url).toMatch(/^https:\/\/github\.com\/SigmaHQ\/sigma\/blob\/[0-9a-f]{40}\/rules\//);
      expect(l.rule.license).toBe(DRL);
    }
    for (const p of [3333, 4444, 5555, 7777, 14444, 45700]) expect(FALCO_MINER_PORTS).toContain(p);
  });

  it.skipIf(!existsSync(sigma))('matches the Sigma rule files it was taken from', () => {
    const check = (url: string, field: 'DestinationPort' | 'DestinationHostname', values: readonly unknown[], meta: { id: string; author: string; title: string }) => {
      const path = url.replace(/^.*\/blob\/[0-9a-f]{40}\//, '');
      const rule = parse(readFileSync(new URL(path, sigma), 'utf8')) as {
        id: string; author: string; title: string; detection: { selection: Record<string, unknown[]> };
      };
      expect(values).toEqual(rule.detection.selection[field]);
      expect(meta).toMatchObject({ id: rule.id, author: rule.author, title: rule.title });
    };
    for (const l of C2_PORT_LISTS) check(l.rule.url, 'DestinationPort', l.ports, l.rule);
    for (const l of SIGMA_POOL_LISTS) check(l.rule.url, 'DestinationHostname', l.domains, l.rule);
  });
});
