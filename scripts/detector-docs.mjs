// Rewrites the parameter tables of docs/detectors.md from the detectors' specs (agent/detect/params-doc.ts).
//   npm run docs:detectors            rewrite the tables
//   npm run docs:detectors -- --check exit 1 when they differ (test/agent/detect/docs.test.ts checks the same)
// Runs the TypeScript sources through tsx: node --import tsx scripts/detector-docs.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DETECTORS } from '../agent/detect/index.ts';
import { PARAMS_REGENERATE, renderDetectorDocs } from '../agent/detect/params-doc.ts';

const path = fileURLToPath(new URL('../docs/detectors.md', import.meta.url));
const check = process.argv.includes('--check');
const before = readFileSync(path, 'utf8');
const { text, missing, unknown } = renderDetectorDocs(before, DETECTORS.map((d) => d.spec));
let failed = false;
if (missing.length > 0) {
  console.error(`docs/detectors.md: no <!-- params:<id> --> … <!-- /params:<id> --> block for ${missing.join(', ')}`);
  failed = true;
}
if (unknown.length > 0) {
  console.error(`docs/detectors.md: params blocks for unknown detectors: ${unknown.join(', ')}`);
  failed = true;
}
if (text === before) {
  console.log('docs/detectors.md: parameter tables match the specs');
} else if (check) {
  console.error(`docs/detectors.md: parameter tables differ from the detector specs; run \`${PARAMS_REGENERATE}\``);
  failed = true;
} else {
  writeFileSync(path, text);
  console.log('docs/detectors.md: parameter tables rewritten from the specs');
}
process.exit(failed ? 1 : 0);
