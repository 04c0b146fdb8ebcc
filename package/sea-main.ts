// Entry point of the single executable (scripts/package.mjs bundles it to CommonJS and injects it into a copy
// of node). Before the CLI runs, the native addons that travel inside the binary are made available: the
// sock_diag reader at once, better-sqlite3 on first use (core/native.ts). Commands that need
// neither (help, version, install, uninstall) run without touching the addon cache.
import { getAsset, getRawAsset, isSea } from 'node:sea';
import { main } from '../cli/cli.js';
import { ERROR_CODES, isSockhuntError } from '../core/errors.js';
import { escapeForTerminal } from '../core/escape.js';
import { setSockDiagBinding } from '../collectors/sockdiag.js';
import { AddonLoader, type AddonManifest, addonCacheDir, commandNeedsAddons } from './addons.js';
import { setNativeSqliteProvider, setSingleBinaryPath } from '../core/native.js';
import { setEmbeddedAssetReader } from '../core/assets.js';

declare const SOCKHUNT_SEA_ADDONS: AddonManifest;

function prepareAddons(manifest: AddonManifest): void {
  const loader = new AddonLoader({ dir: addonCacheDir(), readAsset: (key) => getRawAsset(key) as ArrayBuffer });
  setNativeSqliteProvider(() => loader.load(manifest.sqlite));
  // An explicit SOCKHUNT_SOCKDIAG_ADDON is left to collectors/sockdiag.ts, as under npm.
  if (process.env.SOCKHUNT_SOCKDIAG_ADDON) return;
  // Without a packed sock_diag addon, say so now: the default path next to the binary means nothing here.
  setSockDiagBinding(manifest.sockdiag ? loader.load(manifest.sockdiag) : null);
}

async function run(argv: string[]): Promise<number> {
  if (!isSea()) return main(argv);
  setSingleBinaryPath(process.execPath);
  setEmbeddedAssetReader((key) => {
    try {
      return getAsset(key);
    } catch {
      return undefined; // not packed
    }
  });
  if (commandNeedsAddons(argv)) {
    try {
      prepareAddons(SOCKHUNT_SEA_ADDONS);
    } catch (err) {
      if (!isSockhuntError(err)) throw err;
      process.stderr.write(`sockhunt: ${escapeForTerminal(err.message)} [${err.code}]\n`);
      return ERROR_CODES[err.code].exit;
    }
  }
  return main(argv);
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sockhunt: unexpected failure: ${escapeForTerminal((err as Error)?.stack ?? String(err))} [SOCKHUNT_E_RUNTIME]\n`);
    process.exitCode = 3;
  },
);
