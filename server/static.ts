// The web page: three files read once at start, served with a strict Content-Security-Policy.
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SECURITY_HEADERS } from './http.js';
import { embeddedFile } from '../core/assets.js';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** server/web next to this module (sources), or beside the bundle in dist/ (../server/web). */
export function findWebRoot(): string | null {
  const candidates = [fileURLToPath(new URL('./web/', import.meta.url)), fileURLToPath(new URL('../server/web/', import.meta.url))];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? null;
}

export type StaticHandler = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

export function staticHandler(root: string | null): StaticHandler {
  const loaded = new Map<string, { body: Buffer; type: string }>();
  for (const [path, f] of Object.entries(FILES)) {
    // Inside the single binary the files are packed assets (scripts/package.mjs); under npm they are read here.
    const file = root === null ? null : join(root, f.file);
    const body = embeddedFile(`web/${f.file}`) ?? (file !== null && existsSync(file) ? readFileSync(file) : undefined);
    if (body) loaded.set(path, { body, type: f.type });
  }
  return (req, res, path) => {
    const entry = loaded.get(path);
    if (!entry || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': entry.type,
      'Content-Length': entry.body.length,
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'Cache-Control': 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : entry.body);
    return true;
  };
}
