// The standalone `csms` command: usage errors name the option (exit 2); with --pki it creates a PKI
// when the directory has none and loads it the next time; profile 2 serves wss with the PKI's CSMS CA;
// frames are printed as they pass (readable or JSON lines); a taken port is exit 3; and as a real
// process (`bin/pnc-bench.js csms …`) it runs until SIGINT and exits 0, and a usage error is exit 2
// with the message and no stack trace.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { runCsms, type CsmsFlags } from '../../src/cli/csms.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'csms-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) }, out, err };
}

async function until(lines: string[], re: RegExp, ms = 10_000): Promise<RegExpExecArray> {
  const end = Date.now() + ms;
  for (;;) {
    for (const l of lines) {
      const m = re.exec(l);
      if (m) return m;
    }
    if (Date.now() > end) throw new Error(`no line matching ${re} in:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function wsCall(url: string, opts: WebSocket.ClientOptions & { password?: string; id: string }): Promise<unknown[]> {
  const headers: Record<string, string> = opts.password ? { authorization: `Basic ${Buffer.from(`${opts.id}:${opts.password}`).toString('base64')}` } : {};
  const ws = new WebSocket(`${url}/${opts.id}`, ['ocpp1.6'], { ...opts, headers });
  return new Promise((resolve, reject) => {
    ws.on('open', () => ws.send('[2,"1","Heartbeat",{}]'));
    ws.on('message', (d: Buffer) => {
      resolve(JSON.parse(d.toString()) as unknown[]);
      ws.close();
    });
    ws.on('error', reject);
  });
}

describe('runCsms', () => {
  it.each([
    [{ port: 'x' }, /--port: "x" is not a port number/],
    [{ port: '0', profile: '4' }, /--profile: "4" is not a security profile/],
    [{ port: '0', profile: '1' }, /--profile 1 uses HTTP Basic auth: give the AuthorizationKey with --password/],
    [{ port: '0', profile: '3' }, /--profile 3 needs TLS certificates the charger trusts: give --pki <dir>/],
    [{ port: '0', host: '127.0.0.1', profile: '1', password: 'short' }, /^error: --password: the AuthorizationKey is 5 bytes; OCPP 1\.6 security needs 16–20 bytes$/],
  ] as [CsmsFlags, RegExp][])('usage error %o', async (flags, message) => {
    const c = capture();
    expect(await runCsms(flags, c.io, AbortSignal.timeout(5_000))).toBe(2);
    expect(c.err.join('\n')).toMatch(message);
    expect(c.out).toEqual([]); // checked before anything is prepared (no PKI generated)
  });

  it('profile 2 with a PKI it creates, frames printed, then the same PKI loaded again', async () => {
    const pkiDir = path.join(dir, 'pki');
    const c = capture();
    const ac = new AbortController();
    const run = runCsms({ port: '0', host: '127.0.0.1', profile: '2', password: 'lab-password-1234', pki: pkiDir }, c.io, ac.signal);
    const [, url] = await until(c.out, /listening on (wss:\/\/127\.0\.0\.1:\d+)\/<chargePointId>/);
    expect(c.out.join('\n')).toMatch(/created a PKI in .*pki \(seed [0-9a-f]{16}/);
    const ca = readFileSync(path.join(pkiDir, 'csms-ca.cert.pem'));
    const answer = await wsCall(url as string, { id: 'LAB1', password: 'lab-password-1234', ca });
    expect(answer).toMatchObject([3, '1', { currentTime: expect.any(String) }]);
    await until(c.out, /LAB1 <- \[2,"1","Heartbeat",\{\}\]/);
    await until(c.out, /LAB1 -> \[3,"1",\{"currentTime":/);
    ac.abort();
    expect(await run).toBe(0);
    expect(c.out.at(-1)).toMatch(/stopped; 1 charger\(s\) seen, 0 violation\(s\) recorded/);

    const again = capture();
    const ac2 = new AbortController();
    const run2 = runCsms({ port: '0', host: '127.0.0.1', profile: '0', pki: pkiDir, json: true }, again.io, ac2.signal);
    const [, url2] = await until(again.out, /listening on (ws:\/\/127\.0\.0\.1:\d+)/);
    expect(again.out.join('\n')).toMatch(/PKI loaded from/);
    await wsCall(url2 as string, { id: 'LAB2' });
    const line = await until(again.out, /^\{"tUs":\d+,"cp":"LAB2","dir":"in".*$/);
    expect(JSON.parse(line[0])).toMatchObject({ frame: [2, '1', 'Heartbeat', {}] });
    ac2.abort();
    expect(await run2).toBe(0);
  });

  it('a port that is taken: exit 3 with the reason', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const c = capture();
    const code = await runCsms({ port: String((blocker.address() as net.AddressInfo).port), host: '127.0.0.1' }, c.io, AbortSignal.timeout(5_000));
    blocker.close();
    expect(code).toBe(3);
    expect(c.err.join()).toMatch(/EADDRINUSE/);
  });
});

const BIN = path.join(ROOT, 'bin/pnc-bench.js');

describe('as a process', () => {
  it('a usage error: exit 2, the message naming the option, no stack trace', async () => {
    const child = spawn(process.execPath, [BIN, 'csms', '--port', '0', '--host', '127.0.0.1', '--profile', '1', '--password', 'short'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect({ code, stdout, stderr }).toEqual({ code: 2, stdout: '', stderr: 'error: --password: the AuthorizationKey is 5 bytes; OCPP 1.6 security needs 16–20 bytes\n' });
  });

  it('runs until SIGINT and exits 0', async () => {
    const child = spawn(process.execPath, [BIN, 'csms', '--port', '0', '--host', '127.0.0.1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: string[] = [];
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      out.push(...parts);
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const [, url] = await until(out, /listening on (ws:\/\/127\.0\.0\.1:\d+)/, 20_000);
      await wsCall(url as string, { id: 'PROC' });
      await until(out, /PROC <- \[2,"1","Heartbeat",\{\}\]/);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(out.join('\n')).toMatch(/stopping/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(stderr).toBe('');
  });
});
