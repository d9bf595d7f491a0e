// Error type for bad input to the PKI (a malformed PEM, an unknown role, a bad eMAID, an invalid
// option). Every message names the field and the rule it broke, e.g.
// `csr: not a PEM "CERTIFICATE REQUEST" block`. Callers (CLI, mock CSMS) catch `PkiInputError` and
// show `message` to the user; anything else escaping src/pki is a bug.
//
//   try { parseCertificatePem(text) } catch (e) { if (e instanceof PkiInputError) console.error(e.message) }

export class PkiInputError extends Error {
  override readonly name = 'PkiInputError';
  /** The input that was wrong: an option name, a file, a JSON path (`hashData.serialNumber`). */
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}
