import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DETECTORS } from '../../../agent/detect/index.js';
import { PARAMS_REGENERATE, renderDetectorDocs, renderParamTable } from '../../../agent/detect/params-doc.js';
import type { DetectorSpec } from '../../../agent/detect/types.js';

const DOC = new URL('../../../docs/detectors.md', import.meta.url);
const specs = DETECTORS.map((d) => d.spec);

describe('docs/detectors.md parameter tables', () => {
  const doc = readFileSync(DOC, 'utf8');
  const rendered = renderDetectorDocs(doc, specs);

  it('has one marked table per registered detector, and none for others', () => {
    expect(rendered.missing, 'detectors without a <!-- params:<id> --> block').toEqual([]);
    expect(rendered.unknown, 'params blocks naming no detector').toEqual([]);
  });

  it('match the specs (name, type, default, bounds, description)', () => {
    const stale = specs
      .filter((s) => !doc.includes(`<!-- params:${s.id} -->\n${renderParamTable(s)}\n<!-- /params:${s.id} -->`))
      .map((s) => s.id);
    // a plain boolean keeps vitest from printing the whole document as a diff
    expect(stale, `parameter tables differ from the specs for ${stale.join(', ')}: run \`${PARAMS_REGENERATE}\``).toEqual([]);
    expect(rendered.text === doc, `docs/detectors.md is stale: run \`${PARAMS_REGENERATE}\``).toBe(true);
  });
});

describe('renderParamTable', () => {
  const spec: DetectorSpec<{ windowMs: number; ports: number[]; names: string[]; share: number }> = {
    id: 'example',
    name: 'example',
    technique: [],
    description: '',
    references: [],
    params: {
      windowMs: { type: 'number', default: 90_000, min: 1000, description: 'Window; see share | ports.' },
      ports: { type: 'number[]', default: [53], min: 1, max: 65535, description: 'Ports.' },
      names: { type: 'string[]', default: [], description: 'Names.' },
      share: { type: 'number', default: 0.3, max: 1, description: 'Share within windowMs.' },
    },
  };

  it('renders type, default (with a duration for *Ms), bounds, and quotes sibling parameter names', () => {
    expect(renderParamTable(spec).split('\n')).toEqual([
      '| param | type | default | bounds | meaning |',
      '| --- | --- | --- | --- | --- |',
      '| `windowMs` | number | `90000` (1.5m) | ≥ 1000 | Window; see `share` \\| `ports`. |',
      '| `ports` | number[] | `[53]` | each 1–65535 | Ports. |',
      '| `names` | string[] | `[]` | — | Names. |',
      '| `share` | number | `0.3` | ≤ 1 | Share within `windowMs`. |',
    ]);
  });

  it('replaces only the marked block, and reports a stale document', () => {
    const doc = 'prose\n\n<!-- params:example -->\n| old |\n<!-- /params:example -->\n\nmore prose\n';
    const out = renderDetectorDocs(doc, [spec]);
    expect(out.missing).toEqual([]);
    expect(out.text.startsWith('prose\n\n<!-- params:example -->\n| param |')).toBe(true);
    expect(out.text.endsWith('<!-- /params:example -->\n\nmore prose\n')).toBe(true);
    expect(renderDetectorDocs(out.text, [spec]).text).toBe(out.text);
    expect(renderDetectorDocs('no tables', [spec]).missing).toEqual(['example']);
  });
});
