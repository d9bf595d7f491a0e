// Contract private-key encryption of CertificateInstallationRes / CertificateUpdateRes
// (exi-and-pki.md §3, [V2G2-818]): an ephemeral P-256 key pair (its public point is DHpublickey),
// Z = x-coordinate of ECDH(ephemeral, recipient) where the recipient is the OEM provisioning
// certificate's key (installation) or the current contract certificate's key (update),
// K = first 16 bytes of SHA-256(00000001 ‖ Z ‖ 01 55 56) (NIST SP 800-56A single-step ConcatKDF),
// then AES-128-CBC without padding over the 32-byte big-endian private scalar with a random IV.
// ContractSignatureEncryptedPrivateKey = IV ‖ ciphertext (48 bytes).
//
//   const { encryptedPrivateKey, dhPublicKey } = encryptContractPrivateKey({ contractPrivateKey, recipientPublicKey });
//   const key = decryptContractPrivateKey({ encryptedPrivateKey, dhPublicKey, recipientPrivateKey });
import { createCipheriv, createDecipheriv, createECDH, createHash, randomBytes } from 'node:crypto';
import { bigintToBytes, isValidP256Scalar, P256_N } from '../pki/index.ts';

/** OtherInfo of the V2G ConcatKDF: AlgorithmID 0x01, PartyUInfo 'U', PartyVInfo 'V'. */
export const V2G_KDF_OTHER_INFO = Uint8Array.of(0x01, 0x55, 0x56);

export class ContractKeyError extends Error {
  override readonly name = 'ContractKeyError';
}

/** NIST SP 800-56A single-step KDF with SHA-256: SHA-256(counter ‖ Z ‖ OtherInfo)…, truncated. */
export function concatKdfSha256(z: Uint8Array, otherInfo: Uint8Array = V2G_KDF_OTHER_INFO, keyBytes = 16): Uint8Array {
  const out = new Uint8Array(keyBytes);
  for (let counter = 1, filled = 0; filled < keyBytes; counter++) {
    const c = Uint8Array.of(counter >>> 24, (counter >>> 16) & 0xff, (counter >>> 8) & 0xff, counter & 0xff);
    const block = createHash('sha256').update(c).update(z).update(otherInfo).digest();
    out.set(block.subarray(0, Math.min(32, keyBytes - filled)), filled);
    filled += 32;
  }
  return out;
}

/** ECDH on P-256: the 32-byte x-coordinate of privateKey · publicKey (SEC1 point). */
export function ecdhP256(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  try {
    const e = createECDH('prime256v1');
    e.setPrivateKey(scalarBytes(privateKey));
    return new Uint8Array(e.computeSecret(publicKey));
  } catch (e) {
    throw new ContractKeyError(`ECDH failed: ${(e as Error).message}`);
  }
}

/** A fresh ephemeral key pair: [private scalar (32 bytes), uncompressed public point]. */
function ephemeralKeyPair(fixed?: Uint8Array): [Uint8Array, Uint8Array] {
  const e = createECDH('prime256v1');
  if (fixed) {
    if (!isValidP256Scalar(fixed)) throw new ContractKeyError('invalid ephemeral private key');
    e.setPrivateKey(fixed);
  } else e.generateKeys();
  return [scalarBytes(new Uint8Array(e.getPrivateKey())), new Uint8Array(e.getPublicKey())];
}

/** A private scalar as 32 bytes big-endian (left-padded; RISE-V2G breaks on shorter keys). */
export function scalarBytes(key: Uint8Array | bigint): Uint8Array {
  if (typeof key === 'bigint') {
    if (key <= 0n || key >= P256_N) throw new ContractKeyError('private scalar out of range');
    return bigintToBytes(key, 32);
  }
  if (key.length > 32) throw new ContractKeyError(`private key of ${key.length} bytes (expected 32)`);
  const out = new Uint8Array(32);
  out.set(key, 32 - key.length);
  return out;
}

export interface EncryptContractKeyInput {
  /** the contract certificate's private scalar */
  contractPrivateKey: Uint8Array | bigint;
  /** uncompressed P-256 point of the OEM provisioning certificate (or the current contract certificate for an update) */
  recipientPublicKey: Uint8Array;
  /** fixed ephemeral key, for known-answer tests only */
  ephemeralPrivateKey?: Uint8Array;
  /** fixed IV (16 bytes), for known-answer tests only */
  iv?: Uint8Array;
}

export interface EncryptedContractKey {
  /** ContractSignatureEncryptedPrivateKey: IV ‖ ciphertext, 48 bytes */
  encryptedPrivateKey: Uint8Array;
  /** DHpublickey: 04 ‖ X ‖ Y, 65 bytes */
  dhPublicKey: Uint8Array;
}

export function encryptContractPrivateKey(input: EncryptContractKeyInput): EncryptedContractKey {
  const [eph, dhPublicKey] = ephemeralKeyPair(input.ephemeralPrivateKey);
  const iv = input.iv ?? new Uint8Array(randomBytes(16));
  if (iv.length !== 16) throw new ContractKeyError(`IV must be 16 bytes, got ${iv.length}`);
  const z = ecdhP256(eph, input.recipientPublicKey);
  const key = concatKdfSha256(z);
  const cipher = createCipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
  const scalar = scalarBytes(input.contractPrivateKey);
  if (!isValidP256Scalar(scalar)) throw new ContractKeyError('contract private key out of range');
  const ct = Buffer.concat([cipher.update(scalar), cipher.final()]);
  const encryptedPrivateKey = new Uint8Array(48);
  encryptedPrivateKey.set(iv, 0);
  encryptedPrivateKey.set(ct, 16);
  return { encryptedPrivateKey, dhPublicKey };
}

export interface DecryptContractKeyInput {
  encryptedPrivateKey: Uint8Array;
  dhPublicKey: Uint8Array;
  /** the OEM provisioning certificate's private scalar (or the old contract key for an update) */
  recipientPrivateKey: Uint8Array;
}

/** The EV side: returns the 32-byte contract private scalar. */
export function decryptContractPrivateKey(input: DecryptContractKeyInput): Uint8Array {
  if (input.encryptedPrivateKey.length !== 48) throw new ContractKeyError(`ContractSignatureEncryptedPrivateKey must be 48 bytes (IV ‖ ciphertext), got ${input.encryptedPrivateKey.length}`);
  const z = ecdhP256(input.recipientPrivateKey, input.dhPublicKey);
  const key = concatKdfSha256(z);
  const d = createDecipheriv('aes-128-cbc', key, input.encryptedPrivateKey.subarray(0, 16)).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([d.update(input.encryptedPrivateKey.subarray(16)), d.final()]));
}
