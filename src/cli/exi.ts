// `pnc-bench exi …`: read and write ISO 15118-2 / SupportedAppProtocol EXI by hand, e.g. from a
// trace or an OCPP exiRequest. The lead wires exiCommands() into src/cli/main.ts.
//
//   pnc-bench exi decode 809802000000000000000011D0199135C0040B20       # hex (V2GTP header optional)
//   pnc-bench exi decode gAQBUlEMQIKbe2spApMLcyN7aQIjC6MJ6A== --fragment # base64, MsgDef fragment
//   pnc-bench exi decode @capture.exi --verify @oem-prov.der             # file; check the signature
//   echo '{"V2G_Message": {…}}' | pnc-bench exi encode                   # JSON → hex
//
// decode prints JSON (binary as hex, 64-bit integers as numbers or decimal strings); encode takes
// the same JSON (also the `decoded` form of the shared vectors) and prints hex (or --base64).
// Exit codes: 0 done, 2 bad input (the message names the bit offset and grammar state).
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { decodeDocument, decodeFragment, encodeDocument, encodeFragment, type DecodedElement } from '../exi/codec.ts';
import { ExiError } from '../exi/errors.ts';
import { grammarSet, type RtGrammarSet } from '../exi/grammar.ts';
import type { V2GMessage } from '../exi/iso2.ts';
import { fromHex, fromJsonElement, toHex, toJson } from '../exi/json.ts';
import { publicKeyFromCertificate, verifyV2GSignature } from '../exi/xmldsig.ts';

export interface ExiCliIo {
  out(s: string): void;
  err(s: string): void;
}

type SchemaOpt = 'auto' | 'iso2' | 'apphand' | 'xmldsig';

class CliInputError extends Error {}

/** hex, base64 or @file (raw bytes, or a file holding hex/base64 text) → bytes. */
export function readExiInput(arg: string): Uint8Array {
  let text: string;
  if (arg.startsWith('@')) {
    let buf: Buffer;
    try {
      buf = readFileSync(arg.slice(1));
    } catch (e) {
      throw new CliInputError(`${arg.slice(1)}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    const t = buf.toString('latin1').trim();
    if (!/^[0-9A-Za-z+/=\s]+$/.test(t)) return new Uint8Array(buf); // binary file
    text = t;
  } else text = arg;
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0) throw new CliInputError('empty input');
  if (/^[0-9a-fA-F]+$/.test(compact) && compact.length % 2 === 0) return fromHex(compact);
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(compact) && compact.length % 4 === 0) return Uint8Array.from(Buffer.from(compact, 'base64'));
  throw new CliInputError('input is neither hex nor base64 (use @file for a binary file)');
}

/** Strips a V2GTP header (01 FE, payload type, length) when the bytes carry one. */
export function stripV2gtp(b: Uint8Array): { payload: Uint8Array; payloadType?: number } {
  if (b.length >= 8 && b[0] === 0x01 && b[1] === 0xfe) {
    const type = (b[2]! << 8) | b[3]!;
    const len = ((b[4]! << 24) >>> 0) + (b[5]! << 16) + (b[6]! << 8) + b[7]!;
    if (len === b.length - 8) return { payload: b.subarray(8), payloadType: type };
  }
  return { payload: b };
}

function pickSet(schema: SchemaOpt, bytes: Uint8Array, fragment: boolean): RtGrammarSet {
  if (schema === 'iso2') return grammarSet('iso2-msgdef');
  if (schema === 'apphand') return grammarSet('apphand');
  if (schema === 'xmldsig') return grammarSet('xmldsig');
  if (fragment) return grammarSet('iso2-msgdef');
  // a MsgDef document starts with SE code 76 (first bit 1); AppProtocol with code 0 or 1 (2 bits)
  const first = bytes[0] === 0x80 && bytes.length > 1 ? bytes[1]! >> 7 : 1;
  return grammarSet(first === 1 ? 'iso2-msgdef' : 'apphand');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function exiCommands(program: Command, io: ExiCliIo, setCode: (code: number) => void, stdin?: () => Promise<string>): void {
  const exi = program.command('exi').description('decode and encode ISO 15118-2 / SupportedAppProtocol EXI (V2G profile)');
  const fail = (e: unknown): void => {
    if (e instanceof ExiError || e instanceof CliInputError || e instanceof SyntaxError) {
      io.err(`error: ${e.message}`);
      setCode(2);
    } else throw e;
  };

  exi
    .command('decode')
    .description('decode an EXI document (or --fragment) and print it as JSON')
    .argument('<input>', 'hex, base64 or @file (binary, hex or base64 content); a V2GTP header is skipped')
    .option('--schema <schema>', 'auto | iso2 | apphand | xmldsig', 'auto')
    .option('--fragment', 'the input is an EXI fragment (signed element, SignedInfo with --schema xmldsig)')
    .option('--verify <certificate>', 'check the Header Signature with this signer certificate (DER/PEM file as @file, or hex/base64)')
    .option('--compact', 'one-line JSON')
    .action((input: string, flags: { schema: string; fragment?: boolean; verify?: string; compact?: boolean }) => {
      try {
        if (!['auto', 'iso2', 'apphand', 'xmldsig'].includes(flags.schema)) throw new CliInputError(`--schema must be auto, iso2, apphand or xmldsig (got ${flags.schema})`);
        const { payload, payloadType } = stripV2gtp(readExiInput(input));
        if (payloadType !== undefined && payloadType !== 0x8001) io.err(`warning: V2GTP payload type 0x${payloadType.toString(16)} is not EXI (0x8001)`);
        const set = pickSet(flags.schema as SchemaOpt, payload, flags.fragment === true);
        const items: DecodedElement[] = flags.fragment ? decodeFragment(set, payload) : [decodeDocument(set, payload)];
        const json = items.length === 1 ? { [items[0]!.name]: toJson(items[0]!.value) } : items.map((i) => ({ [i.name]: toJson(i.value) }));
        io.out(flags.compact ? JSON.stringify(json) : JSON.stringify(json, null, 2));
        if (flags.verify !== undefined) {
          if (flags.fragment || items[0]!.name !== 'V2G_Message') throw new CliInputError('--verify needs a V2G_Message document');
          let key: Uint8Array;
          try {
            key = publicKeyFromCertificate(readCertificate(flags.verify));
          } catch (e) {
            throw new CliInputError(`--verify: ${(e as Error).message}`);
          }
          const check = verifyV2GSignature(items[0]!.value as V2GMessage, key);
          for (const r of check.references) io.err(`reference ${r.uri} (${r.element ?? '?'}): ${r.ok ? 'digest ok' : 'DIGEST MISMATCH'}`);
          for (const p of check.problems) io.err(`problem: ${p}`);
          io.err(`signature: ${check.valid ? 'VALID' : check.signatureValid ? 'signature ok, references NOT ok' : 'INVALID'}`);
          setCode(check.valid ? 0 : 1);
          return;
        }
        setCode(0);
      } catch (e) {
        fail(e);
      }
    });

  exi
    .command('encode')
    .description('read JSON on stdin ({"V2G_Message": …}, {"supportedAppProtocolReq": …}, or an element with --fragment) and print the EXI as hex')
    .option('--schema <schema>', 'auto | iso2 | apphand | xmldsig (auto: from the root element name)', 'auto')
    .option('--fragment', 'encode an EXI fragment (signed element; SignedInfo with --schema xmldsig)')
    .option('--base64', 'print base64 instead of hex (OCPP exiRequest/exiResponse)')
    .action(async (flags: { schema: string; fragment?: boolean; base64?: boolean }) => {
      try {
        const text = await (stdin ?? readStdin)();
        const json = JSON.parse(text) as unknown;
        const entries = Array.isArray(json) ? json.flatMap((x) => Object.entries(x as object)) : json !== null && typeof json === 'object' ? Object.entries(json) : [];
        if (entries.length === 0 || (!flags.fragment && entries.length !== 1)) throw new CliInputError('expected a JSON object with exactly one root element, e.g. {"V2G_Message": {…}}');
        const [root] = entries[0]!;
        let set: RtGrammarSet;
        if (flags.schema === 'iso2') set = grammarSet('iso2-msgdef');
        else if (flags.schema === 'apphand') set = grammarSet('apphand');
        else if (flags.schema === 'xmldsig') set = grammarSet('xmldsig');
        else if (flags.schema === 'auto') set = root.startsWith('supportedAppProtocol') ? grammarSet('apphand') : grammarSet('iso2-msgdef');
        else throw new CliInputError(`--schema must be auto, iso2, apphand or xmldsig (got ${flags.schema})`);
        let bytes: Uint8Array;
        if (flags.fragment) bytes = encodeFragment(set, entries.map(([name, v]) => ({ name, value: fromJsonElement(set, name, v) })));
        else bytes = encodeDocument(set, root, fromJsonElement(set, root, entries[0]![1]));
        io.out(flags.base64 ? Buffer.from(bytes).toString('base64') : toHex(bytes));
        setCode(0);
      } catch (e) {
        fail(e);
      }
    });
}

function readCertificate(arg: string): Uint8Array {
  if (arg.startsWith('@')) {
    let text: string;
    try {
      text = readFileSync(arg.slice(1), 'latin1');
    } catch (e) {
      throw new CliInputError(`${arg.slice(1)}: ${(e as Error).message}`);
    }
    const pem = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text);
    if (pem) return Uint8Array.from(Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64'));
    if (/^[0-9A-Za-z+/=\s]+$/.test(text.trim())) return readExiInput(text.trim());
    return Uint8Array.from(Buffer.from(text, 'latin1'));
  }
  return readExiInput(arg);
}
