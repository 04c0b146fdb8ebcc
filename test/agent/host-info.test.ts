import { describe, expect, it } from 'vitest';
import os from 'node:os';
import { HostInfo, collectHostFacts } from '../../agent/host-info.js';
import { HostFactsSchema } from '../../core/protocol.js';

describe('host facts for the hello', () => {
  it('come from systeminformation, within the schema limits', async () => {
    const facts = await collectHostFacts({
      source: {
        osInfo: async () => ({ distro: 'Debian GNU/Linux', release: '12', kernel: '6.1.0-test', platform: 'linux', arch: 'x64' }),
        networkInterfaces: async () => [
          { iface: 'lo', ip4: '127.0.0.1', ip6: '::1', internal: true },
          { iface: 'eth0', ip4: '192.0.2.10', ip6: 'fe80::1%eth0', internal: false },
          { iface: 'eth1', ip4: '', ip6: '2001:db8::10', internal: false },
          ...Array.from({ length: 300 }, (_, i) => ({ iface: `v${i}`, ip4: `198.51.100.${i % 250}`, ip6: `2001:db8::${i.toString(16)}`, internal: false })),
        ],
      },
    });
    expect(HostFactsSchema.safeParse(facts).success).toBe(true);
    expect(facts).toMatchObject({ hostname: os.hostname(), os: 'Debian GNU/Linux 12', kernel: '6.1.0-test', platform: 'linux', arch: 'x64' });
    expect(facts.ips.slice(0, 2)).toEqual(['192.0.2.10', '2001:db8::10']);
    expect(facts.ips).not.toContain('127.0.0.1');
    expect(facts.ips.length).toBeLessThanOrEqual(256);
  });

  it('fall back to node:os when systeminformation hangs or fails', async () => {
    const t0 = Date.now();
    const facts = await collectHostFacts({
      timeoutMs: 100,
      source: { osInfo: () => new Promise(() => {}), networkInterfaces: async () => Promise.reject(new Error('no')) },
    });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(HostFactsSchema.safeParse(facts).success).toBe(true);
    expect(facts.kernel).toBe(os.release());
    expect(facts.platform).toBe(process.platform);
  });

  it('are cached, and concurrent callers share one lookup', async () => {
    let calls = 0;
    const info = new HostInfo({
      ttlMs: 60_000,
      source: {
        osInfo: async () => {
          calls++;
          return { distro: 'X' };
        },
        networkInterfaces: async () => [],
      },
    });
    const [a, b] = await Promise.all([info.get(), info.get()]);
    await info.get();
    expect(a).toBe(b);
    expect(calls).toBe(1);
  });

  it('work with the real systeminformation on this host', async () => {
    const facts = await collectHostFacts({ timeoutMs: 20_000 });
    expect(HostFactsSchema.safeParse(facts).success).toBe(true);
  }, 30_000);
});
