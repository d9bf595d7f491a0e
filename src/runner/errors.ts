// Errors of the runner that are the user's to fix (a suite file, a limit, a rig/suite mismatch):
// the CLI prints their message without a stack trace and exits 2.

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
