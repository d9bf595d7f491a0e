// OCPP 1.6 security profiles at the WebSocket handshake (security whitepaper §4.1):
//   1  ws://  + HTTP Basic auth (user = charge point id, password = AuthorizationKey)
//   2  wss:// + HTTP Basic auth, server certificate (ECDSA and RSA, so all four required cipher suites work)
//   3  wss:// + client certificate issued by the CSMS CA, bound to the charge point (CN = its serial number)
// Profile 0 (no security) is what most products call "0": plain ws://, no auth.
// `checkHandshake` returns null (accept) or the HTTP status and the reason for refusing; the reason is
// also what the transcript records. The Authorization header is handled as bytes: the identity may
// contain colons and the password may be binary, so the header is split at `<identity>:`.
//
//   const refusal = checkHandshake({ chargePointId: 'CP1', config, authorization: req.headers.authorization, tls: socket });
//   const tlsOptions = serverTlsOptions(pki);   // for https.createServer
import type { TLSSocket } from 'node:tls';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { privateKeyPem, type BenchPki } from '../pki/index.ts';
import type { ChargerConfig } from './types.ts';

export interface HandshakeInput {
  chargePointId: string;
  config: ChargerConfig;
  /** the Authorization header, if any */
  authorization: string | undefined;
  /** the TLS socket when the connection came in over TLS */
  tls: TLSSocket | undefined;
}

export type HandshakeVerdict =
  | { ok: true; passwordMatched?: 'raw' | 'hex'; clientCertificate?: { subject: string; fingerprint256: string } }
  | { ok: false; status: 400 | 401 | 403; reason: string };

/** The AuthorizationKey as bytes: `passwordHex` (what ChangeConfiguration AuthorizationKey carries) wins over `password`. */
export function authorizationKeyBytes(cfg: ChargerConfig): Buffer | undefined {
  if (cfg.passwordHex !== undefined) return Buffer.from(cfg.passwordHex, 'hex');
  return cfg.password !== undefined ? Buffer.from(cfg.password, 'utf8') : undefined;
}

function checkBasicAuth(input: HandshakeInput): HandshakeVerdict {
  const { authorization, chargePointId, config } = input;
  const key = authorizationKeyBytes(config);
  if (key === undefined) return { ok: false, status: 401, reason: `security profile ${config.securityProfile} needs a password for ${chargePointId}, and the CSMS has none configured` };
  if (authorization === undefined) return { ok: false, status: 401, reason: 'no Authorization header (HTTP Basic auth required by this security profile)' };
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (!m) return { ok: false, status: 401, reason: 'Authorization header is not "Basic <base64>"' };
  const decoded = Buffer.from(m[1] as string, 'base64');
  const prefix = Buffer.from(`${chargePointId}:`, 'utf8');
  if (decoded.length < prefix.length || !decoded.subarray(0, prefix.length).equals(prefix)) {
    const user = decoded.toString('utf8').split(':')[0] ?? '';
    return { ok: false, status: 401, reason: `Basic auth user "${user}" is not the charge point id "${chargePointId}"` };
  }
  const given = decoded.subarray(prefix.length);
  const enc = config.passwordEncoding;
  if ((enc === 'raw' || enc === 'either') && given.equals(key)) return { ok: true, passwordMatched: 'raw' };
  if ((enc === 'hex' || enc === 'either') && given.toString('latin1').toLowerCase() === key.toString('hex')) return { ok: true, passwordMatched: 'hex' };
  return { ok: false, status: 401, reason: `wrong password for ${chargePointId} (accepted: ${enc === 'either' ? 'the AuthorizationKey or its hex text' : enc === 'hex' ? 'the hex text of the AuthorizationKey' : 'the AuthorizationKey itself'})` };
}

/** Decides whether the handshake of `chargePointId` may proceed under its security profile. */
export function checkHandshake(input: HandshakeInput): HandshakeVerdict {
  const { config, tls, chargePointId } = input;
  const profile = config.securityProfile;
  if (profile <= 1 && tls) return { ok: false, status: 400, reason: `${chargePointId} is configured for security profile ${profile} (ws://) but connected over TLS` };
  if (profile >= 2 && !tls) return { ok: false, status: 400, reason: `${chargePointId} is configured for security profile ${profile} and must connect over TLS (wss://)` };
  if (profile === 0) return { ok: true };
  if (profile === 1 || profile === 2) return checkBasicAuth(input);
  // profile 3: mutual TLS
  const sock = tls as TLSSocket;
  const peer = sock.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return { ok: false, status: 401, reason: 'security profile 3 needs a client certificate, and none was presented' };
  if (!sock.authorized) return { ok: false, status: 401, reason: `client certificate not trusted: ${String(sock.authorizationError)}` };
  const cn = Array.isArray(peer.subject?.CN) ? peer.subject.CN.join(',') : peer.subject?.CN;
  const o = Array.isArray(peer.subject?.O) ? peer.subject.O.join(',') : peer.subject?.O;
  const subject = `CN=${cn ?? ''}${o ? `, O=${o}` : ''}`;
  const clientCertificate = { subject, fingerprint256: peer.fingerprint256 };
  if (config.bindClientCertificate) {
    const expected = config.serialNumber ?? chargePointId;
    if (cn !== expected) return { ok: false, status: 401, reason: `client certificate ${subject} does not belong to ${chargePointId} (CN must be "${expected}")` };
    if (config.cpoName !== undefined && o !== config.cpoName) return { ok: false, status: 401, reason: `client certificate ${subject}: O must be the CPO name "${config.cpoName}"` };
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
