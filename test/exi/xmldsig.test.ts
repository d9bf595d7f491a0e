// xmldsig over EXI against every signature in the shared vectors: the 13 signed dsV2Gshark
// messages (signer certificate taken from the same capture), RISE-V2G's CertificateInstallationRes
// kit (fragments, digests, SignedInfo, SignatureValue) and EVerest's "Annex J.2" AuthorizationReq.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeFragment, encodeFragment } from '../../src/exi/codec.ts';
import { ExiDecodeError } from '../../src/exi/errors.ts';
import { grammarSet } from '../../src/exi/grammar.ts';
import type { SignedInfoType } from '../../src/exi/iso2.ts';
import { decodeIso2Fragment, decodeV2GMessage, encodeIso2Fragment, encodeIso2FragmentUntyped, type V2GMessage } from '../../src/exi/iso2.ts';
import { fromJsonElement, toHex } from '../../src/exi/json.ts';
import {
  decodeXmldsigFragment,
  ecdsaSignP256,
  ecdsaVerifyP256,
  elementDigest,
  encodeSignedInfo,
  findIdElements,
  publicKeyFromCertificate,
  publicKeyFromPrivate,
  sha256,
  signV2GMessage,
  verifyV2GSignature,
} from '../../src/exi/xmldsig.ts';
import { hex, loadVectors, toVectorForm } from './helpers/vectors.ts';

const pcaps = loadVectors('dsV2Gshark-pcaps.json').vectors;
const rise = loadVectors('rise-v2g-signature-testdata.json');
const annexJ = loadVectors('everest-annexJ-signature.json');

/** Every DER certificate in the messages of one capture. */
function certificatesOf(source: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const walk = (o: unknown): void => {
    if (o instanceof Uint8Array) {
      if (o[0] === 0x30 && o.length > 300) out.push(o);
    } else if (Array.isArray(o)) o.forEach(walk);
    else if (o !== null && typeof o === 'object') Object.values(o).forEach(walk);
  };
  for (const v of pcaps) if (v.source === source && !v.message.startsWith('supportedApp')) walk(decodeV2GMessage(hex(v.exiHex)).Body);
  return out;
}

/** RFC 4514-ish subject of a certificate as a set of "K=V" strings. */
const subjectSet = (der: Uint8Array): string[] => new X509Certificate(der).subject.split('\n').sort();

describe('dsV2Gshark signed messages', () => {
  const signed = pcaps.filter((v) => v.signatureCheck);

  it('has 13 signed messages', () => {
    expect(signed.length).toBe(13);
  });

  it('every SignatureValue verifies with the signer certificate from the same capture, and every resolvable digest matches', () => {
    const results: string[] = [];
    for (const v of signed) {
      const msg = decodeV2GMessage(hex(v.exiHex));
      const sc = v.signatureCheck!;
      // SignedInfo re-encoded with the xmldsig-only grammar is exactly what the vector recorded
      expect(toHex(encodeSignedInfo(msg.Header.Signature!.SignedInfo))).toBe(sc.signedInfoHex);
      const signer = certificatesOf(v.source!).find((c) => verifyV2GSignature(msg, publicKeyFromCertificate(c)).signatureValid);
      expect(signer, `${v.message}: no certificate of the capture verifies`).toBeDefined();
      expect(subjectSet(signer!)).toEqual(sc.verifiedWithCertSubject!.split(',').sort());
      const check = verifyV2GSignature(msg, publicKeyFromCertificate(signer!));
      for (const [id, ref] of Object.entries(sc.references)) {
        const mine = check.references.find((r) => r.uri === `#${id}`)!;
        expect(mine.expected).toBe(ref.digestInMsg);
        if (ref.element) {
          expect(mine.ok, `${v.message} #${id}`).toBe(true);
          expect(mine.element).toBe(ref.element);
        } else {
          // RISE-V2G EV quirk: the MeteringReceiptReq signature is replayed on later messages
          expect(mine.ok).toBe(false);
          expect(check.problems.join()).toMatch(/no element with that Id/);
        }
      }
      expect(check.valid).toBe(Object.values(sc.references).every((r) => r.element !== null));
      results.push(v.message);
    }
    expect(results.length).toBe(13);
  });

  it('each signed element fragment is byte-identical to the recorded fragment (the eMAID via the relaxed grammar)', () => {
    let n = 0;
    for (const v of signed) {
      const msg = decodeV2GMessage(hex(v.exiHex));
      const els = findIdElements(msg);
      for (const [id, ref] of Object.entries(v.signatureCheck!.references)) {
        if (!ref.element) continue;
        const el = els.get(id)!;
        const { fragment, digest } = elementDigest(el.qname, el.value);
        const expectedHex = ref.element === 'eMAID' ? (ref as unknown as { elementFragmentGrammarHex: string }).elementFragmentGrammarHex : ref.fragmentHex!;
        expect(toHex(fragment)).toBe(expectedHex);
        expect(toHex(digest)).toBe(ref.digestInMsg);
        n++;
      }
    }
    expect(n).toBe(16);
  });

  it('SignedInfo through the MsgDef fragment grammar (code 208) is a different byte string that does not verify', () => {
    const v = signed.find((x) => x.message === 'CertificateInstallationReq')!;
    const msg = decodeV2GMessage(hex(v.exiHex));
    const viaIso2 = encodeIso2Fragment('SignedInfo', msg.Header.Signature!.SignedInfo);
    expect(toHex(viaIso2)).toBe((v.signatureCheck as unknown as { signedInfoViaIso2FragmentHex: string }).signedInfoViaIso2FragmentHex);
    const key = publicKeyFromCertificate(msg.Body.CertificateInstallationReq!.OEMProvisioningCert);
    expect(ecdsaVerifyP256(key, viaIso2, msg.Header.Signature!.SignatureValue.CONTENT)).toBe(false);
    expect(ecdsaVerifyP256(key, encodeSignedInfo(msg.Header.Signature!.SignedInfo), msg.Header.Signature!.SignatureValue.CONTENT)).toBe(true);
  });

  it('an Id used by two elements makes the check fail (ambiguous reference)', () => {
    const v = signed.find((x) => x.message === 'CertificateInstallationRes')!;
    const msg = decodeV2GMessage(hex(v.exiHex));
    const key = publicKeyFromCertificate(msg.Body.CertificateInstallationRes!.SAProvisioningCertificateChain.Certificate);
    expect(verifyV2GSignature(msg, key).valid).toBe(true);
    const dup = structuredClone(msg);
    dup.Body.CertificateInstallationRes!.SAProvisioningCertificateChain.Id = 'ID1';
    const check = verifyV2GSignature(dup, key);
    expect(check.valid).toBe(false);
    expect(check.problems).toContain('Id ID1 is used by more than one element');
  });

  it('a changed body byte breaks the digest; a changed SignedInfo breaks the signature', () => {
    const v = signed.find((x) => x.message === 'CertificateInstallationReq')!;
    const msg = decodeV2GMessage(hex(v.exiHex));
    const key = publicKeyFromCertificate(msg.Body.CertificateInstallationReq!.OEMProvisioningCert);
    const tampered = structuredClone(msg);
    tampered.Body.CertificateInstallationReq!.ListOfRootCertificateIDs.RootCertificateID[0]!.X509SerialNumber = 17n;
    const c1 = verifyV2GSignature(tampered, key);
    expect(c1.valid).toBe(false);
    expect(c1.signatureValid).toBe(true);
    expect(c1.references[0]!.ok).toBe(false);
    const tampered2 = structuredClone(msg);
    tampered2.Header.Signature!.SignedInfo.Reference[0]!.URI = '#ID2';
    const c2 = verifyV2GSignature(tampered2, key);
    expect(c2.signatureValid).toBe(false);
  });
});

describe('RISE-V2G CertificateInstallationRes signature kit', () => {
  const keys = rise.meta.keys as { signerPrivateKeyHex_TEST_ONLY: string; signerPublicKeyHex: string };
  const conformant = rise.vectors.filter((v) => v.conformant === 'True' || v.conformant === true);
  const nonConformant = rise.vectors.filter((v) => v.conformant === 'False' || v.conformant === false);

  it('the four signed fragments decode, re-encode byte-identically and hash to the published digests', () => {
    const frags = conformant.filter((v) => !v.message.startsWith('SignedInfo'));
    expect(frags.length).toBe(4);
    for (const v of frags) {
      const bytes = hex(v.exiHex);
      const [el, ...rest] = decodeIso2Fragment(bytes);
      expect(rest).toEqual([]);
      const decoded = v.decoded as Record<string, unknown>;
      expect(Object.keys(decoded)).toEqual([el!.name]);
      if (el!.name !== 'eMAID') expect(toVectorForm(grammarSet('iso2-msgdef'), el!.name, el!.value)).toEqual(decoded[el!.name]);
      else expect(el!.value).toEqual(decoded.eMAID);
      expect(toHex(encodeIso2FragmentUntyped(el!.name, el!.value))).toBe(v.exiHex);
      expect(toHex(sha256(bytes))).toBe(v.sha256);
    }
  });

  it('the SignedInfo (xmldsig grammar) decodes, re-encodes, and the README SignatureValue verifies over it', () => {
    for (const v of rise.vectors.filter((x) => x.message.startsWith('SignedInfo'))) {
      const [si] = decodeXmldsigFragment(hex(v.exiHex));
      expect(si!.name).toBe('SignedInfo');
      expect(toHex(encodeSignedInfo(si!.value as SignedInfoType))).toBe(v.exiHex);
      expect(toHex(sha256(hex(v.exiHex)))).toBe(v.sha256);
    }
    const si = conformant.find((x) => x.message.startsWith('SignedInfo'))!;
    const sig = Buffer.from(rise.meta.signatureValueBase64 as string, 'base64');
    expect(ecdsaVerifyP256(hex(keys.signerPublicKeyHex), hex(si.exiHex), sig)).toBe(true);
    // the digests it references are those of the four fragments
    const [decoded] = decodeXmldsigFragment(hex(si.exiHex));
    const digests = (decoded!.value as SignedInfoType).Reference.map((r) => toHex(r.DigestValue)).sort();
    expect(digests).toEqual(conformant.filter((v) => !v.message.startsWith('SignedInfo')).map((v) => v.sha256).sort());
  });

  it('the published key pair matches and signs SignedInfo verifiably', () => {
    expect(toHex(publicKeyFromPrivate(hex(keys.signerPrivateKeyHex_TEST_ONLY)))).toBe(keys.signerPublicKeyHex);
    const si = hex(conformant.find((x) => x.message.startsWith('SignedInfo'))!.exiHex);
    const sig = ecdsaSignP256(hex(keys.signerPrivateKeyHex_TEST_ONLY), si);
    expect(sig.length).toBe(64);
    expect(ecdsaVerifyP256(hex(keys.signerPublicKeyHex), si, sig)).toBe(true);
  });

  it('the deliberately non-conformant empty-namespace fragments are rejected with the bit offset and grammar state', () => {
    const frags = nonConformant.filter((v) => !v.message.startsWith('SignedInfo'));
    expect(frags.length).toBe(4);
    for (const v of frags) {
      let err: unknown;
      try {
        decodeIso2Fragment(hex(v.exiHex));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ExiDecodeError);
      expect((err as ExiDecodeError).bitOffset).toBe(8);
      expect((err as ExiDecodeError).message).toMatch(/SE\(\*\)/);
    }
  });
});

describe('EVerest "ISO 15118-2 Annex J.2" vector', () => {
  const [auth, signedInfo] = annexJ.vectors as [(typeof annexJ.vectors)[0], (typeof annexJ.vectors)[0]];
  const keys = annexJ.meta.keys as { privateKeyHex_TEST_ONLY: string; publicKeyXYHex: string };

  it('AuthorizationReq fragment and SignedInfo round-trip, digests match, r‖s verifies', () => {
    const [el] = decodeIso2Fragment(hex(auth.exiHex));
    expect(toVectorForm(grammarSet('iso2-msgdef'), 'AuthorizationReq', el!.value)).toEqual((auth.decoded as Record<string, unknown>).AuthorizationReq);
    expect(Buffer.from((el!.value as { GenChallenge: Uint8Array }).GenChallenge).toString()).toBe('Some Random Data');
    expect(toHex(encodeIso2Fragment('AuthorizationReq', el!.value as { Id: string; GenChallenge: Uint8Array }))).toBe(auth.exiHex);
    expect(toHex(sha256(hex(auth.exiHex)))).toBe(auth.sha256);

    const set = grammarSet('xmldsig');
    const si = fromJsonElement(set, 'SignedInfo', (signedInfo.decoded as Record<string, unknown>).SignedInfo) as SignedInfoType;
    expect(toHex(encodeSignedInfo(si))).toBe(signedInfo.exiHex);
    expect(toHex(si.Reference[0]!.DigestValue)).toBe(auth.sha256);
    const pub = hex(`04${keys.publicKeyXYHex}`);
    expect(toHex(publicKeyFromPrivate(hex(keys.privateKeyHex_TEST_ONLY)))).toBe(`04${keys.publicKeyXYHex}`);
    expect(ecdsaVerifyP256(pub, hex(signedInfo.exiHex), hex(signedInfo.signatureValueRS as string))).toBe(true);
    expect(ecdsaVerifyP256(pub, hex(auth.exiHex), hex(signedInfo.signatureValueRS as string))).toBe(false);
  });
});

describe('signV2GMessage', () => {
  it('signs body elements by Id; the result verifies and survives an encode/decode round trip', async () => {
    const priv = hex('B9134963F51C4414738435057F97BBF1010CABCB8DBDE9C5D48138396AA94B9D');
    const msg: V2GMessage = {
      Header: { SessionID: hex('0102030405060708') },
      Body: { AuthorizationReq: { Id: 'ID1', GenChallenge: new TextEncoder().encode('Some Random Data') } },
    };
    const signed = await signV2GMessage(msg, ['ID1'], (d) => ecdsaSignP256(priv, d));
    // same digest as the Annex J vector (same element)
    expect(toHex(signed.Header.Signature!.SignedInfo.Reference[0]!.DigestValue)).toBe('D1B5E03D0065BEE56B317984453051EB54CA18FC0E0916174F8B3C77A98F4AA9');
    const pub = publicKeyFromPrivate(priv);
    expect(verifyV2GSignature(signed, pub, ['ID1']).valid).toBe(true);
    const { encodeV2GMessage } = await import('../../src/exi/iso2.ts');
    expect(verifyV2GSignature(decodeV2GMessage(encodeV2GMessage(signed)), pub).valid).toBe(true);
    expect(verifyV2GSignature(signed, pub, ['ID2']).valid).toBe(false);
    await expect(signV2GMessage(msg, ['nope'], (d) => ecdsaSignP256(priv, d))).rejects.toThrow(/no element with Id nope/);

    await expect(signV2GMessage(msg, ['ID1'], () => new Uint8Array(70))).rejects.toThrow(/64 bytes/);
  });

  it('fragments with several elements decode as a list', () => {
    const set = grammarSet('iso2-msgdef');
    const bytes = encodeFragment(set, [
      { name: 'eMAID', value: { Id: 'a', CONTENT: 'DEABC123456789Y' } },
      { name: 'DHpublickey', value: { Id: 'b', CONTENT: new Uint8Array(65) } },
    ]);
    const out = decodeFragment(set, bytes);
    expect(out.map((e) => e.name)).toEqual(['eMAID', 'DHpublickey']);
    expect(out[0]!.value).toEqual({ Id: 'a', CONTENT: 'DEABC123456789Y' });
  });
});
