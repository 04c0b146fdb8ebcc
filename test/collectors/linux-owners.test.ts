import { describe, expect, it } from 'vitest';
import { LinuxCollector } from '../../collectors/linux.js';
import { FakeProc } from '../support/fake-proc.js';

function collector(proc: FakeProc): LinuxCollector {
  proc.links.set('/proc/self/ns/net', 'net:[4026531840]');
  return new LinuxCollector({ reader: proc, tables: 'proc', hostName: 'test-host' });
}

describe('socket → process attribution with a cache', () => {
  it('does not rescan fd directories while the system is steady', () => {
    const proc = new FakeProc();
    proc.addProcess({ pid: 100, comm: 'sshd', exe: '/usr/sbin/sshd', sockets: [5001] });
    proc.addProcess({ pid: 200, comm: 'curl', exe: '/usr/bin/curl', sockets: [5002] });
    for (let pid = 300; pid < 600; pid++) proc.addProcess({ pid, comm: 'sleep', exe: '/usr/bin/sleep' });
    proc.setTcp([{ inode: 5001, port: 22, listen: true }, { inode: 5002, port: 40000 }]);
    const c = collector(proc);
    const first = c.sampleSync();
    expect(first.find((r) => r.socket.inode === 5002)!.process).toMatchObject({ pid: 200, name: 'curl', executable: '/usr/bin/curl' });
    const before = proc.reads.readdir;
    const second = c.sampleSync();
    // Only /proc itself is listed again: no process's fd directory.
    expect(proc.reads.readdir - before).toBe(1);
    expect(second.find((r) => r.socket.inode === 5001)!.process.pid).toBe(100);
  });

  it('finds a new socket in a recent owner first and stops searching', () => {
    const proc = new FakeProc();
    proc.addProcess({ pid: 200, comm: 'curl', sockets: [5002] });
    for (let pid = 300; pid < 400; pid++) proc.addProcess({ pid, comm: 'sleep' });
    proc.addProcess({ pid: 500, comm: 'late', sockets: [] });
    proc.setTcp([{ inode: 5002, port: 40000 }]);
    const c = collector(proc);
    c.sampleSync();
    // curl opens a second connection.
    proc.addSocketFd(200, 9, 5003);
    proc.setTcp([{ inode: 5002, port: 40000 }, { inode: 5003, port: 40001 }]);
    const before = proc.reads.readdir;
    const rows = c.sampleSync();
    expect(rows.find((r) => r.socket.inode === 5003)!.process.pid).toBe(200);
    expect(proc.reads.readdir - before).toBe(2); // /proc and /proc/200/fd
  });

  it('remembers sockets no readable process holds instead of rescanning every sample', () => {
    const proc = new FakeProc();
    for (let pid = 300; pid < 350; pid++) proc.addProcess({ pid, comm: 'sleep' });
    proc.setTcp([{ inode: 7777, port: 2024, listen: true }]);
    const c = collector(proc);
    const rows = c.sampleSync();
    expect(rows[0]!.process.pid).toBeNull();
    const before = proc.reads.readdir;
    c.sampleSync();
    expect(proc.reads.readdir - before).toBe(1);
  });

  it('notices pid reuse through the start time and never keeps the old owner', () => {
    const proc = new FakeProc();
    proc.addProcess({ pid: 200, comm: 'curl', start: 1000, sockets: [5002] });
    proc.setTcp([{ inode: 5002, port: 40000 }]);
    const c = collector(proc);
    expect(c.sampleSync()[0]!.process.name).toBe('curl');
    proc.removeProcess(200);
    proc.addProcess({ pid: 200, comm: 'nc', start: 2000, sockets: [6000] });
    proc.setTcp([{ inode: 5002, port: 40000 }, { inode: 6000, port: 40002 }]);
    const rows = c.sampleSync();
    expect(rows.find((r) => r.socket.inode === 5002)!.process.pid).toBeNull();
    expect(rows.find((r) => r.socket.inode === 6000)!.process).toMatchObject({ pid: 200, name: 'nc' });
  });

  it('refreshes process facts after an exec (same pid and start time, new comm)', () => {
    const proc = new FakeProc();
    proc.addProcess({ pid: 200, comm: 'bash', exe: '/usr/bin/bash', start: 1000, sockets: [5002] });
    proc.setTcp([{ inode: 5002, port: 40000 }]);
    const c = collector(proc);
    expect(c.sampleSync()[0]!.process.name).toBe('bash');
    proc.addProcess({ pid: 200, comm: 'ncat', exe: '/usr/bin/ncat', start: 1000, sockets: [5002] });
    expect(c.sampleSync()[0]!.process).toMatchObject({ name: 'ncat', executable: '/usr/bin/ncat' });
  });

  it('keeps every holder of an inherited socket, the oldest as process.pid', () => {
    const proc = new FakeProc();
    proc.addProcess({ pid: 100, comm: 'server', start: 500, sockets: [5001] });
    proc.setTcp([{ inode: 5001, port: 80, listen: true }]);
    const c = collector(proc);
    c.sampleSync();
    proc.addProcess({ pid: 900, comm: 'server', ppid: 100, start: 5000, sockets: [5001] });
    const row = c.sampleSync()[0]!;
    expect(row.socket.owner_pids).toEqual([100, 900]);
    expect(row.process.pid).toBe(100);
  });

  it('degrades only the row of a process that exits mid-scan or hides its fds', () => {
    const proc = new FakeProc();
    proc.addProcess({ pid: 200, comm: 'curl', sockets: [5002] });
    proc.addProcess({ pid: 201, comm: 'secret', fdReadable: false });
    proc.setTcp([{ inode: 5002, port: 40000 }, { inode: 5003, port: 40001 }]);
    // pid 202 is listed but gone by the time its files are read
    proc.uids.set('/proc/202', 0);
    const rows = collector(proc).sampleSync();
    expect(rows.find((r) => r.socket.inode === 5002)!.process.pid).toBe(200);
    expect(rows.find((r) => r.socket.inode === 5003)!.process.pid).toBeNull();
  });

  it('keeps hostile names and huge command lines as data in their own row', () => {
    const proc = new FakeProc();
    const evil = 'x\u001b]0;pwned\u0007\nrm -rf';
    proc.addProcess({ pid: 200, comm: evil.slice(0, 15), exe: `/tmp/${evil} (deleted)`, cmdline: [`/tmp/${evil}`, 'a'.repeat(5000)], sockets: [5002] });
    proc.addProcess({ pid: 201, comm: 'curl', sockets: [5003] });
    proc.setTcp([{ inode: 5002, port: 40000 }, { inode: 5003, port: 40001 }]);
    const rows = collector(proc).sampleSync();
    const bad = rows.find((r) => r.socket.inode === 5002)!;
    expect(bad.process.name).toBe(evil);
    expect(bad.process.executable).toBe(`/tmp/${evil}`);
    expect(bad.process.executable_deleted).toBe(true);
    expect(bad.process.command_line!.length).toBeLessThan(4200);
    expect(rows.find((r) => r.socket.inode === 5003)!.process.name).toBe('curl');
  });
});
