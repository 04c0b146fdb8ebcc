// The parameter tables of docs/detectors.md, rendered from the detectors' specs (spec.params) so that the documented
// names, types, defaults and bounds are the ones configureDetectors enforces. `npm run docs:detectors` rewrites the
// tables between `<!-- params:<id> -->` and `<!-- /params:<id> -->`; test/agent/detect/docs.test.ts fails when they
// differ. Nothing in the agent imports this module.
import { formatDuration } from '../../core/duration.js';
import type { DetectorSpec, ParamSpec } from './types.js';

type AnySpec = DetectorSpec<any>;

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function formatDefault(name: string, p: ParamSpec): string {
  const text = `\`${JSON.stringify(p.default)}\``;
  // *Ms parameters also take durations; say what the milliseconds are
  if (name.endsWith('Ms') && typeof p.default === 'number' && p.default >= 1000) {
    return `${text} (${formatDuration(p.default)})`;
  }
  return text;
}

function formatBounds(p: ParamSpec): string {
  const { min, max } = p;
  let b = '';
  if (min !== undefined && max !== undefined) b = `${min}–${max}`;
  else if (min !== undefined) b = `≥ ${min}`;
  else if (max !== undefined) b = `≤ ${max}`;
  if (b === '') return '—';
  return p.type === 'number[]' ? `each ${b}` : b;
}

/** Other parameter names of the same detector quoted as code in a description. */
function quoteParams(description: string, names: readonly string[]): string {
  if (names.length === 0) return description;
  const re = new RegExp(`(?<![\\w\`])(${names.join('|')})(?![\\w\`])`, 'g');
  return description.replace(re, '`$1`');
}

/** The markdown table of one detector's parameters (no trailing newline). */
export function renderParamTable(spec: AnySpec): string {
  const params = Object.entries(spec.params as Record<string, ParamSpec>);
  const names = params.map(([n]) => n);
  const lines = ['| param | type | default | bounds | meaning |', '| --- | --- | --- | --- | --- |'];
  for (const [name, p] of params) {
    const others = names.filter((n) => n !== name);
    lines.push(
      `| \`${name}\` | ${p.type} | ${cell(formatDefault(name, p))} | ${cell(formatBounds(p))} | ` +
        `${cell(quoteParams(p.description, others))} |`,
    );
  }
  return lines.join('\n');
}

export const PARAMS_REGENERATE = 'npm run docs:detectors';

export interface RenderedDocs {
  text: string;
  /** Detector ids with no `<!-- params:<id> -->` … `<!-- /params:<id> -->` block in the document. */
  missing: string[];
  /** Marked blocks naming no registered detector. */
  unknown: string[];
}

const BLOCK = /<!-- params:([\w-]+) -->\n[\s\S]*?<!-- \/params:\1 -->/g;

/** The document with every marked parameter table replaced by the one the specs give. */
export function renderDetectorDocs(markdown: string, specs: readonly AnySpec[]): RenderedDocs {
  const byId = new Map(specs.map((s) => [s.id, s]));
  const seen = new Set<string>();
  const unknown: string[] = [];
  const text = markdown.replace(BLOCK, (block, id: string) => {
    const spec = byId.get(id);
    if (!spec) {
      unknown.push(id);
      return block;
    }
    seen.add(id);
    return `<!-- params:${id} -->\n${renderParamTable(spec)}\n<!-- /params:${id} -->`;
  });
  return { text, missing: specs.map((s) => s.id).filter((id) => !seen.has(id)), unknown };
}
