#!/usr/bin/env node
// Entry point installed as `sockhunt`: runs the bundle that `npm run build` (run by `npm ci` via prepare) writes.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/cli.mjs', import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write('sockhunt: the CLI is not built yet (SOCKHUNT_E_NOT_BUILT). Run `npm run build` in the project folder.\n');
  process.exit(3);
}
const { main } = await import(bundle);
process.exitCode = await main(process.argv.slice(2));
