// Fuzzing the decoders with fast-check: random bytes and mutated conformance vectors (bit flips,
// byte changes, truncation, insertion, deletion). Every input must either decode or fail with
// ExiDecodeError (bit offset + grammar state) within a time bound — no other exception, no hang —
// and whatever decodes must re-encode and decode to the same value.
// The default run is moderate; the acceptance run is
//   EXI_FUZZ_RUNS=100000 npx vitest run test/exi/fuzz.test.ts
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDocument, decodeFragment, encodeDocument, encodeFragment } from '../../src/exi/codec.ts';
import { ExiDecodeError } from '../../src/exi/errors.ts';
import { grammarSet, type RtGrammarSet } from '../../src/exi/grammar.ts';
import { hex, loadVectors } from './helpers/vectors.ts';

const RUNS = Number(process.env.EXI_FUZZ_RUNS ?? 2000);
const TIMEOUT_MS = Math.max(60_000, RUNS * 5);
/** generous bound for one decode of ≤ 8 KiB: a hang or quadratic blow-up shows up far above it */
const PER_INPUT_MS = 250;

const iso = grammarSet('iso2-msgdef');
const app = grammarSet('apphand');
const dsig = grammarSet('xmldsig');

const corpus: { set: RtGrammarSet; bytes: Uint8Array; fragment: boolean }[] = [
  ...loadVectors('dsV2Gshark-pcaps.json').vectors.map((v) => ({ set: v.message.startsWith('supportedApp') ? app : iso, bytes: hex(v.exiHex), fragment: false })),
  ...loadVectors('apphandshake-libcbv2g-openv2gx.json').vectors.map((v) => ({ set: app, bytes: hex(v.exiHex), fragment: false })),
  ...loadVectors('rise-v2g-signature-testdata.json')
    .vectors.filter((v) => v.conformant === 'True')
    .map((v) => ({ set: v.message.startsWith('SignedInfo') ? dsig : iso, bytes: hex(v.exiHex), fragment: true })),
  ...loadVectors('everest-annexJ-signature.json').vectors.map((v) => ({ set: v.message.startsWith('SignedInfo') ? dsig : iso, bytes: hex(v.exiHex), fragment: true })),
];

const stats = { decoded: 0, rejected: 0, maxMs: 0 };

/**
 * Decodes; on success re-encodes and checks the round trip. Anything but ExiDecodeError fails, and
 * so does an input that is slow twice in a row (once can be the shared host's scheduler or a GC
 * pause; a hang or a quadratic path is slow every time).
 */
function probe(set: RtGrammarSet, bytes: Uint8Array, fragment: boolean): void {
  const ms = probeOnce(set, bytes, fragment);
  if (ms <= PER_INPUT_MS) return;
  const again = probeOnce(set, bytes, fragment);
  if (again > PER_INPUT_MS) throw new Error(`decoding took ${ms.toFixed(0)} ms, then ${again.toFixed(0)} ms again (${bytes.length} bytes, ${fragment ? 'fragment' : 'document'} of ${set.name})`);
}

/** One decode (+ round trip); returns its duration in ms. */
function probeOnce(set: RtGrammarSet, bytes: Uint8Array, fragment: boolean): number {
  const t0 = performance.now();
  try {
    if (fragment) {
      const els = decodeFragment(set, bytes);
      const again = decodeFragment(set, encodeFragment(set, els.map((e) => ({ name: set.fragmentByName.has(e.name) ? e.name : `{${e.ns}}${e.name}`, value: e.value }))));
      if (!isDeepStrictEqual(again, els)) throw new Error('fragment round trip differs');
    } else {
      const d = decodeDocument(set, bytes);
      const again = decodeDocument(set, encodeDocument(set, d.name, d.value));
      if (!isDeepStrictEqual(again, d)) throw new Error('document round trip differs');
    }
    stats.decoded++;
  } catch (e) {
    if (!(e instanceof ExiDecodeError)) throw e;
    if (!(e.bitOffset >= 0 && e.bitOffset <= bytes.length * 8)) throw new Error(`bit offset ${e.bitOffset} outside the input`);
    stats.rejected++;
  }
  const ms = performance.now() - t0;
  stats.maxMs = Math.max(stats.maxMs, ms);
  return ms;
}

type Mutation = { kind: 'flip'; at: number; bit: number } | { kind: 'set'; at: number; value: number } | { kind: 'truncate'; at: number } | { kind: 'insert'; at: number; bytes: Uint8Array } | { kind: 'delete'; at: number; n: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(src: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = Uint8Array.from(src);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.kind === 'flip' && b.length) b[at]! ^= 1 << m.bit;
    else if (m.kind === 'set' && b.length) b[at] = m.value;
    else if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'insert') b = Uint8Array.from([...b.slice(0, at), ...m.bytes, ...b.slice(at)]);
    else if (m.kind === 'delete') b = Uint8Array.from([...b.slice(0, at), ...b.slice(at + m.n)]);
  }
  return b;
}

describe(`EXI decoder fuzzing (${RUNS} inputs per property)`, () => {
  it(
    'random bytes (with and without a valid header) never crash or hang',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), fc.constantFrom(iso, app, dsig), fc.boolean(), (raw, withHeader, set, fragment) => {
          probe(set, withHeader ? Uint8Array.from([0x80, ...raw]) : raw, fragment);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT_MS,
  );

  it(
    'mutated vectors never crash or hang; what decodes round-trips',
    () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: corpus.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (i, ms) => {
          const c = corpus[i]!;
          probe(c.set, mutate(c.bytes, ms), c.fragment);
        }),
        { numRuns: RUNS },
      );
      // the mutations hit both outcomes: some still decode (e.g. changed values), most are rejected
      expect(stats.decoded).toBeGreaterThan(0);
      expect(stats.rejected).toBeGreaterThan(0);
    },
    TIMEOUT_MS,
  );

  it('every truncation of a large vector is rejected with an offset inside the input', () => {
    const big = corpus.find((c) => c.bytes.length > 4000)!;
    for (let n = 0; n < big.bytes.length; n += 7) {
      let err: unknown;
      try {
        decodeDocument(big.set, big.bytes.subarray(0, n));
      } catch (e) {
        err = e;
      }
      expect(err, `truncated to ${n} bytes`).toBeInstanceOf(ExiDecodeError);
      expect((err as ExiDecodeError).bitOffset).toBeLessThanOrEqual(n * 8);
    }
  });

  it('errors name the grammar state', () => {
    const v = corpus.find((c) => c.bytes.length > 4000)!;
    try {
      decodeDocument(v.set, v.bytes.subarray(0, 1500));
      expect.unreachable();
    } catch (e) {
      const err = e as ExiDecodeError;
      expect(err.message).toMatch(/^at bit \d+ \(byte \d+\) in V2G_Message\/Body\/CertificateInstallationRes\/.*grammar certificateType state 0: Certificate length 637 exceeds the remaining 229 bytes$/);
      expect(err.grammarState).toContain('CertificateInstallationRes');
    }
  });
});
