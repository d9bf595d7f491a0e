// OCPP 1.6 security profiles at the WebSocket handshake (security whitepaper §4.1):
//   1  ws://  + HTTP Basic auth (user = charge point id, password = AuthorizationKey)
//   2  wss:// + HTTP Basic auth, server certificate (ECDSA and RSA, so all four required cipher suites work)
//   3  wss:// + client certificate issued by the CSMS CA, bound to the charge point (CN = its serial number)
// Profile 0 (no security) is what most products call "0": plain ws://, no auth.
// `checkHandshake` accepts, or names the kind of refusal (its HTTP status is configurable per kind,
// MockCsmsOptions.refusalStatus) and the reason; the reason is also what the transcript records. The Authorization header is handled as bytes: the identity may
// contain colons and the password may be binary, so the header is split at `<identity>:`.
//
//   const refusal = checkHandshake({ chargePointId: 'CP1', config, authorization: req.headers.authorization, tls: socket });
//   const tlsOptions = serverTlsOptions(pki);   // for https.createServer
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { derToPem, privateKeyPem, type BenchPki } from '../pki/index.ts';
import type { ChargerConfig } from './types.ts';

export interface HandshakeInput {
  chargePointId: string;
  config: ChargerConfig;
  /** the Authorization header, if any */
  authorization: string | undefined;
  /** the TLS socket when the connection came in over TLS */
  tls: TLSSocket | undefined;
}

/**
 * Why a handshake was refused; each kind has its own HTTP status (MockCsmsOptions.refusalStatus):
 *   badPath 400         the path names no charge point
 *   unknownCharger 404  `unknownChargers: 'reject'` and the id is not configured
 *   transport 400       profile 0/1 over TLS, or profile 2/3 over plain ws://
 *   noCredentials 401   no Authorization header / no client certificate / no password configured
 *   wrongPassword 401   wrong password, other user name, a header that is not Basic
 *   badCertificate 401  client certificate untrusted, or another charger's (CN / O)
 *   subprotocol 400     `subprotocolMismatch: 'reject'` and ocpp1.6 not offered
 *   offline 503         the suite took the charger offline (ChargePoint.goOffline; status per call)
 */
export type RefusalKind = 'badPath' | 'unknownCharger' | 'transport' | 'noCredentials' | 'wrongPassword' | 'badCertificate' | 'subprotocol' | 'offline';

export const REFUSAL_KINDS: readonly RefusalKind[] = ['badPath', 'unknownCharger', 'transport', 'noCredentials', 'wrongPassword', 'badCertificate', 'subprotocol', 'offline'];

export const DEFAULT_REFUSAL_STATUS: Readonly<Record<RefusalKind, number>> = Object.freeze({
  badPath: 400,
  unknownCharger: 404,
  transport: 400,
  noCredentials: 401,
  wrongPassword: 401,
  badCertificate: 401,
  subprotocol: 400,
  offline: 503,
});

/** Checks a refusal status a user chose: an HTTP error status, 400–599. */
export function checkRefusalStatus(status: unknown, what: string): number {
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599) {
    throw new RangeError(`${what} must be an HTTP error status (an integer 400–599), got ${JSON.stringify(status)}`);
  }
  return status;
}

/** One certificate of the chain a charger presented (profile 3), leaf first, as OpenSSL built it (a JSON object as is). */
export type PeerCertificateInfo = {
  subject: string;
  issuer: string;
  serialNumber: string;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  pem: string;
};

const nameText = (n: Record<string, string | string[]> | undefined): string =>
  Object.entries(n ?? {})
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ');

/**
 * The client certificate chain of a TLS connection (leaf first, up to the trust anchor when OpenSSL
 * could build the path, else as far as the charger's own certificates go); empty without one.
 */
export function peerCertificateChain(sock: TLSSocket): PeerCertificateInfo[] {
  const out: PeerCertificateInfo[] = [];
  let c: DetailedPeerCertificate | undefined = sock.getPeerCertificate(true);
  const seen = new Set<string>();
  while (c && Object.keys(c).length > 0 && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push({
      subject: nameText(c.subject as unknown as Record<string, string | string[]>),
      issuer: nameText(c.issuer as unknown as Record<string, string | string[]>),
      serialNumber: c.serialNumber,
      validFrom: c.valid_from,
      validTo: c.valid_to,
      fingerprint256: c.fingerprint256,
      pem: derToPem(c.raw, 'CERTIFICATE'),
    });
    c = c.issuerCertificate;
  }
  return out;
}

export type HandshakeVerdict =
  | { ok: true; passwordMatched?: 'raw' | 'hex'; clientCertificate?: { subject: string; fingerprint256: string } }
  | { ok: false; kind: RefusalKind; reason: string };

/** The AuthorizationKey as bytes: `passwordHex` (what ChangeConfiguration AuthorizationKey carries) wins over `password`. */
export function authorizationKeyBytes(cfg: ChargerConfig): Buffer | undefined {
  if (cfg.passwordHex !== undefined) return Buffer.from(cfg.passwordHex, 'hex');
  return cfg.password !== undefined ? Buffer.from(cfg.password, 'utf8') : undefined;
}

function checkBasicAuth(input: HandshakeInput): HandshakeVerdict {
  const { authorization, chargePointId, config } = input;
  const key = authorizationKeyBytes(config);
  if (key === undefined) return { ok: false, kind: 'noCredentials', reason: `security profile ${config.securityProfile} needs a password for ${chargePointId}, and the CSMS has none configured` };
  if (authorization === undefined) return { ok: false, kind: 'noCredentials', reason: 'no Authorization header (HTTP Basic auth required by this security profile)' };
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (!m) return { ok: false, kind: 'wrongPassword', reason: 'Authorization header is not "Basic <base64>"' };
  const decoded = Buffer.from(m[1] as string, 'base64');
  const prefix = Buffer.from(`${chargePointId}:`, 'utf8');
  if (decoded.length < prefix.length || !decoded.subarray(0, prefix.length).equals(prefix)) {
    const user = decoded.toString('utf8').split(':')[0] ?? '';
    return { ok: false, kind: 'wrongPassword', reason: `Basic auth user "${user}" is not the charge point id "${chargePointId}"` };
  }
  const given = decoded.subarray(prefix.length);
  const enc = config.passwordEncoding;
  if ((enc === 'raw' || enc === 'either') && given.equals(key)) return { ok: true, passwordMatched: 'raw' };
  if ((enc === 'hex' || enc === 'either') && given.toString('latin1').toLowerCase() === key.toString('hex')) return { ok: true, passwordMatched: 'hex' };
  return { ok: false, kind: 'wrongPassword', reason: `wrong password for ${chargePointId} (accepted: ${enc === 'either' ? 'the AuthorizationKey or its hex text' : enc === 'hex' ? 'the hex text of the AuthorizationKey' : 'the AuthorizationKey itself'})` };
}

/** Decides whether the handshake of `chargePointId` may proceed under its security profile. */
export function checkHandshake(input: HandshakeInput): HandshakeVerdict {
  const { config, tls, chargePointId } = input;
  const profile = config.securityProfile;
  if (profile <= 1 && tls) return { ok: false, kind: 'transport', reason: `${chargePointId} is configured for security profile ${profile} (ws://) but connected over TLS` };
  if (profile >= 2 && !tls) return { ok: false, kind: 'transport', reason: `${chargePointId} is configured for security profile ${profile} and must connect over TLS (wss://)` };
  if (profile === 0) return { ok: true };
  if (profile === 1 || profile === 2) return checkBasicAuth(input);
  // profile 3: mutual TLS
  const sock = tls as TLSSocket;
  const peer = sock.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return { ok: false, kind: 'noCredentials', reason: 'security profile 3 needs a client certificate, and none was presented' };
  if (!sock.authorized) return { ok: false, kind: 'badCertificate', reason: `client certificate not trusted: ${String(sock.authorizationError)}` };
  const cn = Array.isArray(peer.subject?.CN) ? peer.subject.CN.join(',') : peer.subject?.CN;
  const o = Array.isArray(peer.subject?.O) ? peer.subject.O.join(',') : peer.subject?.O;
  const subject = `CN=${cn ?? ''}${o ? `, O=${o}` : ''}`;
  const clientCertificate = { subject, fingerprint256: peer.fingerprint256 };
  if (config.bindClientCertificate) {
    const expected = config.serialNumber ?? chargePointId;
    if (cn !== expected) return { ok: false, kind: 'badCertificate', reason: `client certificate ${subject} does not belong to ${chargePointId} (CN must be "${expected}")` };
    if (config.cpoName !== undefined && o !== config.cpoName) return { ok: false, kind: 'badCertificate', reason: `client certificate ${subject}: O must be the CPO name "${config.cpoName}"` };
  }
  return { ok: true, clientCertificate };
}

export interface TlsSettings {
  /** default 'TLSv1.2' (the whitepaper's minimum) */
  minVersion?: 'TLSv1.2' | 'TLSv1.3' | 'TLSv1.1' | 'TLSv1';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher list (TLS 1.2); default Node's, which includes the four whitepaper suites */
  ciphers?: string;
  /** offer only one of the two server certificates (negative tests) */
  serverKeys?: 'both' | 'ecdsa' | 'rsa';
  /** extra CA certificates (PEM) trusted for client certificates */
  extraCaPem?: string[];
}

/** https server options from the bench PKI: ECDSA and RSA server certificates, client certificates requested. */
export function serverTlsOptions(pki: BenchPki, s: TlsSettings = {}): HttpsServerOptions {
  const which = s.serverKeys ?? 'both';
  const key: string[] = [];
  const cert: string[] = [];
  if (which !== 'rsa') {
    const e = pki.get('csms-server-ecdsa');
    key.push(privateKeyPem(e.key));
    cert.push(e.cert.pem);
  }
  if (which !== 'ecdsa') {
    const r = pki.get('csms-server-rsa');
    key.push(privateKeyPem(r.key));
    cert.push(r.cert.pem);
  }
  return {
    key,
    cert,
    ca: [pki.cert('csms-ca').pem, ...(s.extraCaPem ?? [])],
    requestCert: true,
    // decided per charger after the handshake, so a refusal says why instead of a bare TLS alert
    rejectUnauthorized: false,
    minVersion: s.minVersion ?? 'TLSv1.2',
    ...(s.maxVersion ? { maxVersion: s.maxVersion } : {}),
    ...(s.ciphers ? { ciphers: s.ciphers } : {}),
  };
}
