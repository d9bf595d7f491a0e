// `pnc-bench exi decode|encode` (src/cli/exi.ts) driven through commander exactly as main.ts will
// wire it: hex/base64/@file input, V2GTP header skipping, JSON out, JSON in, signature check, and
// bad input answered with exit code 2 and the bit offset.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { exiCommands } from '../../src/cli/exi.ts';
import { hex, loadVectors } from './helpers/vectors.ts';

const pcaps = loadVectors('dsV2Gshark-pcaps.json').vectors;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pnc-exi-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  let code = -1;
  const program = new Command('pnc-bench').exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  exiCommands(program, { out: (s) => out.push(s), err: (s) => err.push(s) }, (c) => (code = c), async () => stdin);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch {
    code = code < 0 ? 2 : code;
  }
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('pnc-bench exi decode', () => {
  const setup = pcaps.find((v) => v.message === 'SessionSetupReq')!;

  it('decodes hex to JSON', async () => {
    const r = await run(['exi', 'decode', setup.exiHex]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(setup.decoded);
  });

  it('decodes base64 with a V2GTP header, and @file (binary and text)', async () => {
    const payload = hex(setup.exiHex);
    const framed = Buffer.concat([Buffer.from([0x01, 0xfe, 0x80, 0x01, 0, 0, 0, payload.length]), payload]);
    const r = await run(['exi', 'decode', framed.toString('base64'), '--compact']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(setup.decoded);
    const bin = path.join(tmp, 'msg.exi');
    writeFileSync(bin, payload);
    expect(JSON.parse((await run(['exi', 'decode', `@${bin}`])).out)).toEqual(setup.decoded);
    const txt = path.join(tmp, 'msg.hex');
    writeFileSync(txt, setup.exiHex.replace(/(..)/g, '$1 ') + '\n');
    expect(JSON.parse((await run(['exi', 'decode', `@${txt}`])).out)).toEqual(setup.decoded);
  });

  it('detects the handshake grammar and decodes fragments', async () => {
    const hs = loadVectors('apphandshake-libcbv2g-openv2gx.json').vectors[1]!;
    expect(JSON.parse((await run(['exi', 'decode', hs.exiHex])).out)).toEqual(hs.decoded);
    const frag = loadVectors('everest-annexJ-signature.json').vectors[0]!;
    expect(JSON.parse((await run(['exi', 'decode', frag.exiHex, '--fragment'])).out)).toEqual(frag.decoded);
  });

  it('checks the Header Signature with --verify', async () => {
    const req = pcaps.find((v) => v.message === 'CertificateInstallationReq')!;
    const oemCert = (req.decoded as { V2G_Message: { Body: { CertificateInstallationReq: { OEMProvisioningCert: string } } } }).V2G_Message.Body.CertificateInstallationReq.OEMProvisioningCert;
    const der = path.join(tmp, 'oem.der');
    writeFileSync(der, Buffer.from(oemCert, 'hex'));
    const ok = await run(['exi', 'decode', req.exiHex, '--verify', `@${der}`]);
    expect(ok.err).toMatch(/reference #ID1 \(CertificateInstallationReq\): digest ok/);
    expect(ok.err).toMatch(/signature: VALID/);
    expect(ok.code).toBe(0);
    const auth = pcaps.find((v) => v.message === 'AuthorizationReq' && v.signatureCheck)!;
    const bad = await run(['exi', 'decode', auth.exiHex, '--verify', `@${der}`]);
    expect(bad.err).toMatch(/signature: INVALID/);
    expect(bad.code).toBe(1);
  });

  it('bad input: exit 2 with a clear message', async () => {
    const trunc = await run(['exi', 'decode', setup.exiHex.slice(0, 20)]);
    expect(trunc.code).toBe(2);
    expect(trunc.err).toMatch(/^error: at bit \d+ \(byte \d+\) in V2G_Message\/Header\/SessionID/);
    const junk = await run(['exi', 'decode', 'zz-not-exi']);
    expect(junk.code).toBe(2);
    expect(junk.err).toMatch(/neither hex nor base64/);
    const missing = await run(['exi', 'decode', '@/nonexistent/file.exi']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/no such file/);
    const notExi = await run(['exi', 'decode', '00112233']);
    expect(notExi.err).toMatch(/not an EXI stream/);
  });
});

describe('pnc-bench exi encode', () => {
  it('encodes the vectors\' decoded JSON back to their bytes (document, handshake, fragment)', async () => {
    for (const v of [pcaps.find((x) => x.message === 'CertificateInstallationRes')!, pcaps.find((x) => x.message === 'ChargeParameterDiscoveryRes')!, pcaps[0]!]) {
      const r = await run(['exi', 'encode'], JSON.stringify(v.decoded));
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe(v.exiHex);
    }
    const frag = loadVectors('everest-annexJ-signature.json').vectors;
    expect((await run(['exi', 'encode', '--fragment'], JSON.stringify(frag[0]!.decoded))).out).toBe(frag[0]!.exiHex);
    expect((await run(['exi', 'encode', '--fragment', '--schema', 'xmldsig'], JSON.stringify(frag[1]!.decoded))).out).toBe(frag[1]!.exiHex);
  });

  it('decode | encode is the identity, and --base64 prints what OCPP carries', async () => {
    const v = pcaps.find((x) => x.message === 'MeteringReceiptReq')!;
    const dec = await run(['exi', 'decode', v.exiHex]);
    expect((await run(['exi', 'encode'], dec.out)).out).toBe(v.exiHex);
    expect((await run(['exi', 'encode', '--base64'], dec.out)).out).toBe(Buffer.from(v.exiHex, 'hex').toString('base64'));
  });

  it('bad JSON or a value the schema does not allow: exit 2 naming the property', async () => {
    const notJson = await run(['exi', 'encode'], '{nope');
    expect(notJson.code).toBe(2);
    const wrong = await run(['exi', 'encode'], JSON.stringify({ V2G_Message: { Header: { SessionID: '00' }, Body: { SessionSetupReq: { EVCCID: '0102030405060708' } } } }));
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/V2G_Message\.Body\.SessionSetupReq\.EVCCID: 8 bytes outside 0\.\.6 \(evccIDType\)/);
    const unknown = await run(['exi', 'encode'], JSON.stringify({ V2G_Message: { Header: { SessionID: '00', Bogus: 1 }, Body: {} } }));
    expect(unknown.err).toMatch(/Header\.Bogus: unknown property/);
  });
});
