// Data files packed into the single binary as SEA assets (scripts/package.mjs: the web page, server/web/*),
// for modules that read them from disk under npm. Like core/native.ts, free of `node:sea`: the reader is
// registered by package/sea-main.ts, and under npm every lookup answers undefined.

let reader: ((key: string) => ArrayBuffer | undefined) | undefined;

/** Called by package/sea-main.ts inside the single binary. */
export function setEmbeddedAssetReader(read: ((key: string) => ArrayBuffer | undefined) | undefined): void {
  reader = read;
}

/** The packed file `key` (e.g. `web/index.html`), or undefined outside the single binary or when not packed. */
export function embeddedFile(key: string): Buffer | undefined {
  const bytes = reader?.(key);
  return bytes === undefined ? undefined : Buffer.from(bytes);
}
