// With a certificate the server speaks https and wss; agents verify it against the CA they are given.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import { API_TOKEN, ENROLL_SECRET, hello, startTestServer, type TestServer } from '../support/server.js';
import { tempDir } from '../support/tmp.js';

let tmp: ReturnType<typeof tempDir>;
let cert: Buffer;
let server: TestServer;

beforeAll(async () => {
  tmp = tempDir();
  const key = path.join(tmp.dir, 'key.pem');
  const crt = path.join(tmp.dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', crt], { stdio: 'ignore' });
  cert = fs.readFileSync(crt);
  server = await startTestServer({ tls: { cert, key: fs.readFileSync(key) } });
});

afterAll(async () => {
  await server.stop();
  tmp.remove();
});

describe('TLS', () => {
  it('serves the API over https and agents over wss', async () => {
    expect(server.url).toMatch(/^https:/);
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(`${server.url}/api/hosts`, { ca: cert, headers: { Authorization: `Bearer ${API_TOKEN}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(status).toBe(200);

    const ws = new WebSocket(server.wsUrl, { ca: cert });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify(hello(randomUUID(), { enroll_secret: ENROLL_SECRET })));
    const welcome = await new Promise<any>((resolve) => ws.once('message', (d) => resolve(JSON.parse(d.toString()))));
    expect(welcome.type).toBe('welcome');
    ws.close();

    // Without the CA the client refuses the certificate.
    const untrusted = new WebSocket(server.wsUrl);
    await expect(new Promise((resolve, reject) => {
      untrusted.once('open', resolve);
      untrusted.once('error', reject);
    })).rejects.toThrow();
  });
});
