import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  decodeHexAddress,
  parseCmdline,
  parseContainerId,
  parsePasswd,
  parseResolvConf,
  parseSnmpTcp,
  parseSocketTable,
  parseStat,
} from '../../collectors/procfs.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/proc/${name}`, import.meta.url), 'utf8');

describe('parseSocketTable on captured tables', () => {
  it('decodes IPv4 TCP listeners and connections', () => {
    const { sockets, skipped } = parseSocketTable(fixture('net-tcp.txt'), 'tcp', 'inet');
    expect(skipped).toBe(0);
    const listener = sockets.find((s) => s.localPort === 45001 && s.state === 'LISTEN');
    expect(listener).toMatchObject({ localIp: '127.0.0.1', remoteIp: '0.0.0.0', remotePort: 0, uid: 0, family: 'inet' });
    expect(listener!.inode).toBeGreaterThan(0);
    const conns = sockets.filter((s) => s.state === 'ESTABLISHED' && (s.localPort === 45001 || s.remotePort === 45001));
    expect(conns).toHaveLength(2);
  });

  it('shows IPv4-mapped addresses as IPv4 with family inet6, and ::1 compressed', () => {
    const { sockets } = parseSocketTable(fixture('net-tcp6.txt'), 'tcp', 'inet6');
    expect(sockets.find((s) => s.state === 'LISTEN')).toMatchObject({ localIp: '::', localPort: 45002 });
    const mapped = sockets.find((s) => s.localPort === 45002 && s.remoteIp === '127.0.0.1');
    expect(mapped).toMatchObject({ localIp: '127.0.0.1', family: 'inet6', state: 'ESTABLISHED' });
    expect(sockets.filter((s) => s.localIp === '::1' && s.remoteIp === '::1')).toHaveLength(2);
  });

  it('reports connected UDP as ESTABLISHED and bound UDP as UNCONNECTED', () => {
    const v4 = parseSocketTable(fixture('net-udp.txt'), 'udp', 'inet').sockets;
    expect(v4.find((s) => s.localPort === 45003)).toMatchObject({ state: 'UNCONNECTED', remotePort: 0 });
    expect(v4.find((s) => s.remotePort === 45003)).toMatchObject({ state: 'ESTABLISHED', remoteIp: '127.0.0.1' });
    const v6 = parseSocketTable(fixture('net-udp6.txt'), 'udp', 'inet6').sockets;
    expect(v6.find((s) => s.localPort === 45004)).toMatchObject({ state: 'UNCONNECTED', localIp: '::1' });
  });

  it('decodes documentation, link-local and mapped IPv6 in the kernel word order', () => {
    const { sockets } = parseSocketTable(fixture('net-tcp6-crafted.txt'), 'tcp', 'inet6');
    expect(sockets[0]).toMatchObject({ localIp: '2001:db8::1', localPort: 443, remoteIp: '2001:db8::2', remotePort: 50000, uid: 1000, inode: 777 });
    expect(sockets[1]).toMatchObject({ localIp: 'fe80::5254:ff:5634:12fe', localPort: 22, state: 'LISTEN' });
    expect(sockets[2]).toMatchObject({ localIp: '192.168.0.10', remoteIp: '192.168.0.2', remotePort: 54321, state: 'TIME_WAIT', inode: 0, family: 'inet6' });
  });

  it('skips malformed lines and keeps the good ones', () => {
    const { sockets, skipped } = parseSocketTable(fixture('net-tcp-malformed.txt'), 'tcp', 'inet');
    expect(sockets.map((s) => s.inode)).toEqual([1001, 1003]);
    expect(sockets[1]).toMatchObject({ remoteIp: '192.168.0.2', remotePort: 443, state: 'SYN_SENT', uid: 33 });
    expect(skipped).toBe(4);
  });

  it('survives garbage without throwing', () => {
    expect(parseSocketTable('', 'tcp', 'inet')).toEqual({ sockets: [], skipped: 0 });
    expect(parseSocketTable('header\n\u0000\u0001 garbage : : :\n', 'udp', 'inet').skipped).toBe(1);
  });
});

describe('address decoding', () => {
  it('rejects malformed hex', () => {
    expect(decodeHexAddress('0100007')).toBeNull();
    expect(decodeHexAddress('G100007F')).toBeNull();
    expect(decodeHexAddress('0100007F')).toBe('127.0.0.1');
  });
});

describe('process files', () => {
  it('parses stat with a comm holding spaces and parentheses', () => {
    const stat = parseStat(fixture('stat-hostile.txt'))!;
    expect(stat).toMatchObject({ pid: 4242, comm: 'evil) proc (x)', state: 'S', ppid: 1, cpuTicks: 300, startTime: 123456 });
    expect(parseStat('garbage')).toBeNull();
  });

  it('turns a NUL-separated command line into one readable line, quoting and capping', () => {
    const cmd = parseCmdline(readFileSync(new URL('../fixtures/proc/cmdline-hostile.bin', import.meta.url), 'utf8'))!;
    expect(cmd.argv).toEqual(['python3', '-u', '/opt/app/my script.py', '--name=\u001b[31mred']);
    expect(cmd.line).toBe('python3 -u "/opt/app/my script.py" --name=\u001b[31mred');
    const long = parseCmdline(`${'a'.repeat(5000)}\0`)!;
    expect(long.line.length).toBeLessThan(4200);
    expect(long.line).toMatch(/…\[\+904 chars\]$/);
    expect(parseCmdline('')).toBeNull();
  });

  it('maps uids to names from passwd, first entry wins', () => {
    const users = parsePasswd('root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\ntoor:x:0:0::/:/bin/sh\n');
    expect(users.get(0)).toBe('root');
    expect(users.get(33)).toBe('www-data');
    expect(users.size).toBe(2);
  });

  it('finds container ids in cgroup paths', () => {
    const id = 'a'.repeat(12) + 'b'.repeat(52);
    expect(parseContainerId(`0::/system.slice/docker-${id}.scope\n`)).toBe(id);
    expect(parseContainerId(`0::/kubepods/besteffort/pod1/cri-containerd-${id}\n`)).toBe(id);
    expect(parseContainerId('0::/user.slice/user-1000.slice\n')).toBeNull();
  });
});

describe('host files', () => {
  it('reads the TCP counters from /proc/net/snmp', () => {
    const text = 'Ip: Forwarding\nIp: 1\nTcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\nTcp: 1 200 120000 -1 83 2 7 1 0 7370 4770 0 0 148 0\n';
    expect(parseSnmpTcp(text)).toEqual({ activeOpens: 83, passiveOpens: 2, attemptFails: 7, estabResets: 1, outRsts: 148 });
    expect(parseSnmpTcp('nothing')).toBeNull();
  });

  it('reads nameservers from resolv.conf', () => {
    expect(parseResolvConf('# x\nnameserver 10.0.0.53\nsearch lan\nnameserver fe80::1%eth0\n  nameserver 2001:db8::53\n')).toEqual(['10.0.0.53', 'fe80::1', '2001:db8::53']);
  });
});
