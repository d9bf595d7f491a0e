// OCSP over HTTP (RFC 6960 Appendix A): a fastify server that feeds DER requests (POST body with
// content type application/ocsp-request, or GET <path>/<url-encoded base64>) to an `OcspResponder`,
// and the matching client transport for `checkOcsp`. The server listens on loopback by default,
// at the URL the bench PKI wrote into authorityInfoAccess.
//
//   const server = await startOcspHttpServer(responder, { url: pki.ocspUrl });  // e.g. http://127.0.0.1:8180/ocsp
//   await checkOcsp(contract, moSub2, { transport: httpOcspTransport({ timeoutMs: 2000 }) });
//   await server.close();
import Fastify, { type FastifyInstance } from 'fastify';
import { PkiInputError } from './errors.ts';
import type { OcspAnswer, OcspResponder, OcspTransport } from './ocsp.ts';

export interface OcspHttpServerOptions {
  /** Listen where this URL points (host, port, path); overrides host/port/path. */
  url?: string | undefined;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** Default `/ocsp`. */
  path?: string;
  /** Wait this long before answering (timeout tests); changeable later via `server.delayMs`. */
  delayMs?: number;
  /** Called for every request answered (transcripts). */
  onRequest?: (event: OcspHttpEvent) => void;
}

export interface OcspHttpEvent {
  method: 'GET' | 'POST';
  contentType: string | undefined;
  requestDer: Uint8Array;
  answer: OcspAnswer;
  /** performance.now() when the request arrived. */
  receivedAtMs: number;
}

export interface OcspHttpServer {
  /** The URL to put into authorityInfoAccess / to POST to. */
  readonly url: string;
  readonly port: number;
  delayMs: number;
  /** Stop answering at all (requests hang until the client gives up) while true. */
  silent: boolean;
  close(): Promise<void>;
}

const MAX_REQUEST_BYTES = 65_536;

export async function startOcspHttpServer(responder: OcspResponder, opts: OcspHttpServerOptions = {}): Promise<OcspHttpServer> {
  let host = opts.host ?? '127.0.0.1';
  let port = opts.port ?? 0;
  let path = opts.path ?? '/ocsp';
  if (opts.url !== undefined) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new PkiInputError('ocspUrl', `"${opts.url}" is not a URL`);
    }
    if (u.protocol !== 'http:') throw new PkiInputError('ocspUrl', `"${opts.url}": the bench responder serves plain http://`);
    host = u.hostname.replace(/^\[|\]$/g, '');
    if (host === 'localhost') host = '127.0.0.1';
    port = u.port ? Number(u.port) : 80;
    path = u.pathname;
  }
  if (!path.startsWith('/')) throw new PkiInputError('path', `"${path}" must start with /`);
  const base = path.length > 1 ? path.replace(/\/+$/, '') : '';

  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: MAX_REQUEST_BYTES });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const state = { delayMs: opts.delayMs ?? 0, silent: false };
  const pending = new Set<() => void>();

  const handle = async (method: 'GET' | 'POST', contentType: string | undefined, requestDer: Uint8Array): Promise<Uint8Array | undefined> => {
    const receivedAtMs = performance.now();
    if (state.silent) {
      await new Promise<void>((resolve) => pending.add(resolve));
      return undefined;
    }
    if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
    const answer = responder.answer(requestDer);
    opts.onRequest?.({ method, contentType, requestDer, answer, receivedAtMs });
    return answer.der;
  };

  const send = (reply: import('fastify').FastifyReply, der: Uint8Array | undefined) => {
    if (!der) return reply.code(503).send();
    return reply.code(200).header('content-type', 'application/ocsp-response').header('cache-control', 'no-store').send(Buffer.from(der));
  };

  app.post(base || '/', async (req, reply) => {
    const body = req.body instanceof Buffer ? new Uint8Array(req.body) : new Uint8Array();
    return send(reply, await handle('POST', req.headers['content-type'], body));
  });
  app.get(`${base}/*`, async (req, reply) => {
    const encoded = (req.params as Record<string, string>)['*'] ?? '';
    let der: Uint8Array;
    try {
      der = new Uint8Array(Buffer.from(decodeURIComponent(encoded), 'base64'));
    } catch {
      der = new Uint8Array();
    }
    return send(reply, await handle('GET', undefined, der));
  });

  const address = await app.listen({ host, port });
  const actualPort = new URL(address).port ? Number(new URL(address).port) : port;
  const hostForUrl = host.includes(':') ? `[${host}]` : host;
  const url = `http://${hostForUrl}:${actualPort}${base || '/'}`;
  return {
    url,
    port: actualPort,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(v: number) {
      state.delayMs = v;
    },
    get silent() {
      return state.silent;
    },
    set silent(v: boolean) {
      state.silent = v;
      if (!v) for (const r of pending) r();
    },
    async close() {
      for (const r of pending) r();
      pending.clear();
      await app.close();
    },
  };
}

/**
 * OCSP over HTTP POST (application/ocsp-request), with a per-request timeout (default 5 s). The URL
 * comes from a charger (responderURL), so only http(s) is followed and the answer is capped
 * (default 64 KiB; a real OCSP response is a few KiB).
 */
export function httpOcspTransport(opts: { timeoutMs?: number; maxResponseBytes?: number } = {}): OcspTransport {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const maxBytes = opts.maxResponseBytes ?? 65_536;
  return async (requestDer, url, signal) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`responder URL "${url}" is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`responder URL "${url}" is not http(s)`);
    const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
    const res = await fetch(parsed, {
      method: 'POST',
      headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
      body: Buffer.from(requestDer),
      signal: AbortSignal.any(signals),
      redirect: 'error',
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of res.body ?? []) {
      size += chunk.length;
      if (size > maxBytes) throw new Error(`response larger than ${maxBytes} bytes`);
      chunks.push(chunk);
    }
    return new Uint8Array(Buffer.concat(chunks));
  };
}
