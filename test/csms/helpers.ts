// Test helpers for the mock CSMS: start one on 127.0.0.1, connect independent chargers to it — an
// ocpp-rpc client in strict mode (validates everything it sends and receives against the official
// schemas) for well-behaved traffic, and a raw `ws` client that can send anything for negative tests.
// Every helper registers what it opens so `cleanup()` (afterAll/afterEach) closes it.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RPCClient } from 'ocpp-rpc';
import WebSocket, { type ClientOptions } from 'ws';
import { MockCsms, type MockCsmsOptions } from '../../src/csms/index.ts';

const opened: { close(): Promise<unknown> | void }[] = [];

export async function cleanup(): Promise<void> {
  const list = opened.splice(0);
  await Promise.all(list.map(async (o) => o.close()));
}

export const sig = (ms = 10_000): AbortSignal => AbortSignal.timeout(ms);

export async function startCsms(opts: MockCsmsOptions = {}): Promise<MockCsms> {
  const csms = new MockCsms({ host: '127.0.0.1', port: 0, pingIntervalMs: 0, ...opts });
  await csms.listen();
  opened.push({ close: () => csms.close(1_000) });
  return csms;
}

type RpcOptions = ConstructorParameters<typeof RPCClient>[0];

export interface RpcClientOptions {
  password?: string | Buffer;
  protocols?: string[];
  wsOpts?: ClientOptions;
  callTimeoutMs?: number;
  strict?: boolean;
}

/** An ocpp-rpc 2.2.1 client in strict mode, connected. */
export async function rpcClient(csms: MockCsms, identity: string, o: RpcClientOptions = {}): Promise<RPCClient> {
  const client = new RPCClient({
    endpoint: csms.url,
    identity,
    protocols: o.protocols ?? ['ocpp1.6'],
    strictMode: o.strict ?? true,
    reconnect: false,
    callTimeoutMs: o.callTimeoutMs ?? 5_000,
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.wsOpts ? { wsOpts: o.wsOpts } : {}),
  } as unknown as RpcOptions);
  opened.push({ close: () => client.close({ force: true }) });
  await client.connect();
  return client;
}

/** A raw WebSocket charger: send any text, read frames in order. */
export class RawCharger {
  readonly frames: string[] = [];
  private waiters: ((s: string) => void)[] = [];
  closed: { code: number; reason: string } | undefined;
  private closeWaiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      const s = d.toString();
      const w = this.waiters.shift();
      if (w) w(s);
      else this.frames.push(s);
    });
    ws.on('close', (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.closeWaiters.splice(0)) w();
    });
  }

  send(text: string): void {
    this.ws.send(text);
  }

  /** The next frame from the CSMS (rejects after `ms`). */
  next(ms = 3_000): Promise<string> {
    const f = this.frames.shift();
    if (f !== undefined) return Promise.resolve(f);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no frame from the CSMS within ${ms} ms`));
      }, ms);
      const waiter = (s: string): void => {
        clearTimeout(t);
        resolve(s);
      };
      this.waiters.push(waiter);
    });
  }

  async nextJson(ms?: number): Promise<unknown[]> {
    return JSON.parse(await this.next(ms)) as unknown[];
  }

  /** Sends a CALL and returns the parsed answer. */
  async call(uniqueId: string, action: string, payload: unknown): Promise<unknown[]> {
    this.send(JSON.stringify([2, uniqueId, action, payload]));
    return this.nextJson();
  }

  /** Asserts that nothing arrives within `ms`. */
  async quiet(ms: number): Promise<boolean> {
    if (this.frames.length) return false;
    return new Promise((resolve) => {
      const waiter = (s: string): void => {
        clearTimeout(t);
        this.frames.unshift(s);
        resolve(false);
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(true);
      }, ms);
      this.waiters.push(waiter);
    });
  }

  waitClosed(ms = 3_000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not closed within ${ms} ms`)), ms);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve(this.closed as { code: number; reason: string });
      });
    });
  }

  close(): void {
    this.ws.terminate();
  }
}

export interface RawOptions extends ClientOptions {
  protocols?: string[];
  /** Basic auth: user is the identity */
  password?: string;
}

/** Opens a raw WebSocket to `<csms.url>/<identity>`; resolves when open (rejects on refusal with the HTTP status). */
export async function rawCharger(csms: MockCsms, identity: string, o: RawOptions = {}): Promise<RawCharger> {
  const { protocols, password, ...wsOpts } = o;
  const headers: Record<string, string> = { ...(wsOpts.headers as Record<string, string> | undefined) };
  if (password !== undefined) headers.authorization = `Basic ${Buffer.from(`${identity}:${password}`).toString('base64')}`;
  const ws = new WebSocket(`${csms.url}/${encodeURIComponent(identity)}`, protocols ?? ['ocpp1.6'], { ...wsOpts, headers });
  const raw = new RawCharger(ws);
  opened.push({ close: () => raw.close() });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body.trim()}`), { status: res.statusCode, body: body.trim() })));
    });
    ws.once('error', (e) => reject(e));
  });
  return raw;
}

/** The HTTP refusal of a handshake: `{ status, body }`, or throws if the handshake succeeded. */
export async function refusedWith(p: Promise<unknown>): Promise<{ status: number; body: string }> {
  try {
    await p;
  } catch (e) {
    const x = e as { status?: number; body?: string; message: string };
    if (x.status !== undefined) return { status: x.status, body: x.body ?? '' };
    return { status: 0, body: x.message };
  }
  throw new Error('the handshake was accepted');
}

export { once };

// ------------------------------------------------------------------ CSRs and keys made by openssl


let csrN = 0;
const tmpDirs: string[] = [];
export function removeTmpDirs(): void {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A fresh key and a CSR made by `openssl req` (P-256 by default). */
export function opensslCsr(subject: string, keyArgs: string[] = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']): { csr: string; keyPem: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'csms-csr-'));
  tmpDirs.push(dir);
  const n = ++csrN;
  const key = path.join(dir, `k${n}.pem`);
  const req = path.join(dir, `r${n}.pem`);
  execFileSync('openssl', ['genpkey', ...keyArgs, '-out', key], { stdio: 'pipe' });
  execFileSync('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', req], { stdio: 'pipe' });
  return { csr: readFileSync(req, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}
