// Contract private-key encryption (ECDH P-256 + ConcatKDF SHA-256 + AES-128-CBC): the locally
// generated known-answer vector step by step, both directions, random round trips and bad input.
import { p256 } from '@noble/curves/nist.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatKdfSha256, ContractKeyError, decryptContractPrivateKey, ecdhP256, encryptContractPrivateKey, scalarBytes } from '../../src/exi/contract-key.ts';
import { toHex } from '../../src/exi/json.ts';
import { hex, loadVectors } from './helpers/vectors.ts';

const kat = loadVectors('local-contract-key-encryption-kat.json').vectors[0]! as Record<string, string>;

describe('contract key encryption known-answer vector', () => {
  it('Z, the KDF output and the 48-byte IV ‖ ciphertext match', () => {
    expect(toHex(p256.getPublicKey(hex(kat.oemProvPrivateKeyHex!), false))).toBe(kat.oemProvPublicKeyHex);
    const z = ecdhP256(hex(kat.ephemeralPrivateKeyHex!), hex(kat.oemProvPublicKeyHex!));
    expect(toHex(z)).toBe(kat.sharedSecretZHex);
    expect(toHex(concatKdfSha256(z, hex(kat.kdfOtherInfoHex!)))).toBe(kat.sessionKeyHex);
    const out = encryptContractPrivateKey({
      contractPrivateKey: hex(kat.contractPrivateKeyHex!),
      recipientPublicKey: hex(kat.oemProvPublicKeyHex!),
      ephemeralPrivateKey: hex(kat.ephemeralPrivateKeyHex!),
      iv: hex(kat.ivHex!),
    });
    expect(toHex(out.dhPublicKey)).toBe(kat.dhPublicKeyHex);
    expect(out.encryptedPrivateKey.length).toBe(48);
    expect(toHex(out.encryptedPrivateKey)).toBe(kat.encryptedPrivateKeyWithIvHex);
  });

  it('the EV side decrypts the vector to the contract key', () => {
    const key = decryptContractPrivateKey({
      encryptedPrivateKey: hex(kat.encryptedPrivateKeyWithIvHex!),
      dhPublicKey: hex(kat.dhPublicKeyHex!),
      recipientPrivateKey: hex(kat.oemProvPrivateKeyHex!),
    });
    expect(toHex(key)).toBe(kat.contractPrivateKeyHex);
    // the wrong recipient key gives a different (garbage) scalar, not the contract key
    const wrong = decryptContractPrivateKey({
      encryptedPrivateKey: hex(kat.encryptedPrivateKeyWithIvHex!),
      dhPublicKey: hex(kat.dhPublicKeyHex!),
      recipientPrivateKey: hex(kat.ephemeralPrivateKeyHex!),
    });
    expect(toHex(wrong)).not.toBe(kat.contractPrivateKeyHex);
  });
});

describe('contract key encryption', () => {
  it('round-trips random keys with a fresh ephemeral key and IV each time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), () => {
        const oem = p256.utils.randomSecretKey();
        const contract = p256.utils.randomSecretKey();
        const a = encryptContractPrivateKey({ contractPrivateKey: contract, recipientPublicKey: p256.getPublicKey(oem, false) });
        const b = encryptContractPrivateKey({ contractPrivateKey: contract, recipientPublicKey: p256.getPublicKey(oem, false) });
        expect(toHex(a.encryptedPrivateKey)).not.toBe(toHex(b.encryptedPrivateKey));
        expect(a.dhPublicKey.length).toBe(65);
        expect(decryptContractPrivateKey({ ...a, recipientPrivateKey: oem })).toEqual(contract);
      }),
      { numRuns: 20 },
    );
  });

  it('left-pads short scalars to 32 bytes; accepts bigint', () => {
    expect(toHex(scalarBytes(Uint8Array.of(1, 2)))).toBe('00'.repeat(30) + '0102');
    expect(toHex(scalarBytes(0x0102n))).toBe('00'.repeat(30) + '0102');
    expect(() => scalarBytes(0n)).toThrow(ContractKeyError);
    expect(() => scalarBytes(new Uint8Array(33))).toThrow(/33 bytes/);
  });

  it('rejects a bad recipient point, a bad IV and a wrong-size ciphertext', () => {
    const contract = p256.utils.randomSecretKey();
    expect(() => encryptContractPrivateKey({ contractPrivateKey: contract, recipientPublicKey: new Uint8Array(65) })).toThrow(ContractKeyError);
    expect(() => encryptContractPrivateKey({ contractPrivateKey: contract, recipientPublicKey: p256.getPublicKey(contract, false), iv: new Uint8Array(8) })).toThrow(/16 bytes/);
    expect(() => decryptContractPrivateKey({ encryptedPrivateKey: new Uint8Array(32), dhPublicKey: p256.getPublicKey(contract, false), recipientPrivateKey: contract })).toThrow(/48 bytes/);
  });
});
