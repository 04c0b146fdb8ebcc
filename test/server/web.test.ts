import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { CONTENT_SECURITY_POLICY } from '../../server/static.js';
import { startTestServer, type TestServer } from '../support/server.js';

const WEB = new URL('../../server/web/', import.meta.url);
const read = (name: string): string => fs.readFileSync(new URL(name, WEB), 'utf8');

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

describe('the web page', () => {
  it('is served at / with a strict Content-Security-Policy and no-sniff headers', async () => {
    for (const [path, type] of [
      ['/', 'text/html'],
      ['/app.js', 'text/javascript'],
      ['/app.css', 'text/css'],
    ] as const) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe');
    const page = await (await fetch(`${server.url}/`)).text();
    expect(page).toContain('<script type="module" src="/app.js"></script>');
    expect((await fetch(`${server.url}/other.html`)).status).toBe(404);
    expect((await fetch(`${server.url}/`, { method: 'POST' })).status).toBe(404);
  });

  it('never puts data into the page as HTML (grep)', () => {
    const js = read('app.js');
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function', 'srcdoc', 'createContextualFragment', 'DOMParser', 'javascript:']) {
      expect(js, `app.js uses ${sink}`).not.toContain(sink);
    }
    // Attributes set from data go through the h() helper, which never sets on* handlers or href/src from data.
    expect(js).not.toMatch(/setAttribute\(\s*['"](on|href|src|style)/i);
    expect(js).toContain('document.createTextNode');
    expect(js).toContain('textContent');
  });

  it('has no inline script, style or event handler (the CSP would block them)', () => {
    const html = read('index.html');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/\sstyle\s*=/i);
    expect(html).not.toMatch(/<style/i);
  });
});
