// Conformance against the shared public vectors (../shared/vectors/iso15118-2/, read in place):
// every document decodes to the vector's decoded form and re-encodes byte-identically, and the
// vector's decoded JSON (libcbv2g names) encodes back to the same bytes as well.
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decodeAppHandshake, encodeAppHandshake } from '../../src/exi/apphand.ts';
import { decodeDocument, encodeDocument } from '../../src/exi/codec.ts';
import { grammarSet } from '../../src/exi/grammar.ts';
import { bodyElementName, decodeV2GMessage, encodeV2GMessage } from '../../src/exi/iso2.ts';
import { fromJsonElement, toHex } from '../../src/exi/json.ts';
import { hex, loadVectors, toVectorForm, type Vector } from './helpers/vectors.ts';

const pcaps = loadVectors('dsV2Gshark-pcaps.json').vectors;
const handshake = loadVectors('apphandshake-libcbv2g-openv2gx.json').vectors;

function check(v: Vector): { decodedMatches: boolean; reencoded: string; fromVectorJson: string } {
  const set = grammarSet(v.message.startsWith('supportedAppProtocol') ? 'apphand' : 'iso2-msgdef');
  const d = decodeDocument(set, hex(v.exiHex));
  const form = { [d.name]: toVectorForm(set, d.name, d.value) };
  const [[root, json]] = Object.entries(v.decoded!) as [[string, unknown]];
  return {
    decodedMatches: isDeepStrictEqual(form, v.decoded),
    reencoded: toHex(encodeDocument(set, d.name, d.value)),
    fromVectorJson: toHex(encodeDocument(set, root, fromJsonElement(set, root, json))),
  };
}

describe('dsV2Gshark captures (356 documents)', () => {
  it('holds 356 vectors covering every ISO 15118-2 body element found in the field', () => {
    expect(pcaps.length).toBe(356);
    const kinds = new Set(pcaps.map((v) => v.message));
    expect(kinds.size).toBe(36);
  });

  it('every document decodes to the given decoded form and re-encodes byte-identically', () => {
    const failures: string[] = [];
    let passed = 0;
    for (const [i, v] of pcaps.entries()) {
      try {
        const r = check(v);
        if (!r.decodedMatches) failures.push(`#${i} ${v.message}: decoded form differs`);
        else if (r.reencoded !== v.exiHex) failures.push(`#${i} ${v.message}: re-encoding differs`);
        else if (r.fromVectorJson !== v.exiHex) failures.push(`#${i} ${v.message}: encoding the vector JSON differs`);
        else passed++;
      } catch (e) {
        failures.push(`#${i} ${v.message}: ${(e as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
    expect(passed).toBe(356);
  });

  it('the typed API returns V2G_Message with the body element by name', () => {
    const v = pcaps.find((x) => x.message === 'CertificateInstallationReq')!;
    const msg = decodeV2GMessage(hex(v.exiHex));
    expect(bodyElementName(msg)).toBe('CertificateInstallationReq');
    const req = msg.Body.CertificateInstallationReq!;
    expect(toHex(msg.Header.SessionID)).toBe('CDC4C7082010CE5C');
    expect(req.Id).toBe('ID1');
    expect(req.OEMProvisioningCert).toBeInstanceOf(Uint8Array);
    expect(req.ListOfRootCertificateIDs.RootCertificateID[0]!.X509SerialNumber).toBe(16n);
    expect(toHex(encodeV2GMessage(msg))).toBe(v.exiHex);
  });

  it('values have their schema types: booleans, bigint for 64-bit integers, enums by name', () => {
    const cd = decodeV2GMessage(hex(pcaps.find((x) => x.message === 'CurrentDemandReq')!.exiHex)).Body.CurrentDemandReq!;
    expect(typeof cd.ChargingComplete).toBe('boolean');
    expect(cd.DC_EVStatus.EVErrorCode).toBe('NO_ERROR');
    const mr = decodeV2GMessage(hex(pcaps.find((x) => x.message === 'MeteringReceiptReq')!.exiHex)).Body.MeteringReceiptReq!;
    expect(typeof mr.MeterInfo.MeterReading).toBe('bigint');
    expect(typeof mr.MeterInfo.TMeter).toBe('bigint');
  });
});

describe('SupportedAppProtocol vectors', () => {
  const all = [...handshake, ...pcaps.filter((v) => v.message.startsWith('supportedAppProtocol'))];

  it('every handshake message decodes to the given form and re-encodes byte-identically', () => {
    expect(all.length).toBe(9);
    for (const v of all) {
      const r = check(v);
      expect(r.decodedMatches, v.exiHex).toBe(true);
      expect(r.reencoded).toBe(v.exiHex);
      expect(r.fromVectorJson).toBe(v.exiHex);
    }
  });

  it('the typed API', () => {
    const req = decodeAppHandshake(hex(handshake[0]!.exiHex));
    expect(req.supportedAppProtocolReq?.AppProtocol[0]?.ProtocolNamespace).toBe('urn:iso:std:iso:15118:-20:AC');
    const res = encodeAppHandshake({ supportedAppProtocolRes: { ResponseCode: 'OK_SuccessfulNegotiation', SchemaID: 1 } });
    expect(toHex(res)).toBe('80400040');
    expect(decodeAppHandshake(res)).toEqual({ supportedAppProtocolRes: { ResponseCode: 'OK_SuccessfulNegotiation', SchemaID: 1 } });
  });
});
