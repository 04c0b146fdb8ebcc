// The version and commit scripts/build.mjs and scripts/package.mjs compile in (esbuild defines), for modules
// that cannot import them from cli/cli.ts without a cycle.
declare const SOCKHUNT_VERSION: string;
declare const SOCKHUNT_COMMIT: string;

export const BUILD_VERSION = typeof SOCKHUNT_VERSION === 'string' ? SOCKHUNT_VERSION : '0.0.0-dev';
export const BUILD_COMMIT = typeof SOCKHUNT_COMMIT === 'string' ? SOCKHUNT_COMMIT : 'dev';
