// Shape of the grammar table files in src/exi/grammars/*.json (written by
// src/exi/tools/gen-grammars.ts, read by src/exi/grammar.ts). One file holds one EXI grammar set:
// the simple datatypes, one element grammar per complex type (states of productions in event-code
// order), the sorted global-element list of the document grammar, the sorted element list of the
// fragment grammar and the sorted attribute list of the relaxed element-fragment grammar.
// See src/exi/GRAMMARS.md for how the tables are derived.

/** A production. `f` indexes `fields`, `n` is the next state. Event codes are array positions. */
export type ProductionJson =
  | ['AT', number, number] // AT(qname) typed attribute
  | ['SE', number, number] // SE(qname) child element
  | ['CH', number] // CH typed simple content (the grammar's `content` type)
  | ['EE'] // end element
  | ['SE*', number] // SE(*) wildcard (not decodable by this codec: schema-less content)
  | ['CH*', number]; // CH untyped (mixed content)

/** kind: a = attribute, e = element, c = simple content (`CONTENT`). */
export interface FieldJson {
  kind: 'a' | 'e' | 'c';
  name: string;
  /** index into `namespaces` */
  ns: number;
  /** name of a simple type or complex type of this file */
  type: string;
  /** true when the element can occur more than once: the value is an array */
  array?: true;
}

export interface ComplexTypeJson {
  abstract?: true;
  mixed?: true;
  /** simple type of the CH production (complex types with simple content) */
  content?: string;
  fields: FieldJson[];
  states: ProductionJson[][];
}

export type SimpleTypeJson =
  | { k: 'string'; minLength?: number; maxLength?: number }
  | { k: 'binary'; enc: 'hex' | 'base64'; minLength?: number; maxLength?: number }
  | { k: 'boolean' }
  | { k: 'enum'; values: string[] }
  /** bounded integer, range ≤ 4096: n-bit offset from min */
  | { k: 'nbit'; min: number; max: number }
  /** unsigned integer (7-bit groups); `big` = values may exceed 2^53 (bigint) */
  | { k: 'uint'; min: string; max?: string; big: boolean }
  /** signed integer (sign bit + 7-bit groups) */
  | { k: 'int'; min?: string; max?: string; big: boolean };

/**
 * [local name, namespace index, type name] or, for a qname declared with different types (its
 * content uses the relaxed element-fragment grammar), [local name, namespace index, null, declared
 * type names].
 */
export type ElementRefJson = [string, number, string] | [string, number, null, string[]] | [string, number, string | null];

export interface GrammarFileJson {
  format: 1;
  name: string;
  /** how the tables were made: input file names and the SHA-256 of the parsed schema model */
  generatedFrom: { files: string[]; schemaModelSha256: string; generator: string };
  namespaces: string[];
  simpleTypes: Record<string, SimpleTypeJson>;
  complexTypes: Record<string, ComplexTypeJson>;
  /** global elements sorted by local name, then namespace: SE codes of the document grammar */
  document: ElementRefJson[];
  /** every element qname sorted by local name, then namespace: SE codes of the fragment grammar */
  fragment: ElementRefJson[];
  /** every attribute qname sorted by local name, then namespace (relaxed element-fragment grammar) */
  attributes: ElementRefJson[];
}
