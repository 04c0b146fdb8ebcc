// Where code that runs both from npm and inside the single binary gets its native addons from. Under npm this
// module holds nothing and every accessor returns undefined: better-sqlite3 finds its addon in node_modules as
// usual. Inside the single binary (package/sea-main.ts) the addons travel as SEA assets, are written out
// and loaded by package/addons.ts, which registers a provider here before any command runs.
//
// Kept free of `node:sea` and of file access so that importing it (store/agent/db.ts does) costs nothing under npm.

/** Returns the loaded better-sqlite3 addon module (`process.dlopen`-ed), loading it on first use. */
export type NativeModuleProvider = () => object;

let sqliteProvider: NativeModuleProvider | undefined;

/** Registers (or, with undefined, removes) where the better-sqlite3 addon comes from. */
export function setNativeSqliteProvider(provider: NativeModuleProvider | undefined): void {
  sqliteProvider = provider;
}

/**
 * The better-sqlite3 addon module to pass as `new Database(path, { nativeBinding })`, or undefined outside
 * the single binary. Inside it, a path string does not work (the binary has no node_modules and its
 * `require` loads built-in modules only), so the loaded module object is handed over. Throws SOCKHUNT_E_ADDON
 * when the addon cannot be written out or loaded.
 */
export function nativeSqliteBinding(): object | undefined {
  return sqliteProvider?.();
}

let singleBinary: string | null = null;

/** Called by package/sea-main.ts inside the single binary, with its path. */
export function setSingleBinaryPath(path: string | null): void {
  singleBinary = path;
}

/** The running single binary's path, or null under npm (`node bin/sockhunt.js`). */
export function singleBinaryPath(): string | null {
  return singleBinary;
}
