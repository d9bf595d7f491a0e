// Test entry point for the standalone `csms` command (not a test file): a commander program with only
// csmsCommands, run under `node --import tsx`, the way src/cli/main.ts will wire it. Exits with the
// command's code so the test sees what `pnc-bench csms` would return.
import { Command } from 'commander';
import { csmsCommands } from '../../src/cli/csms.ts';

let code = 0;
const program = new Command('pnc-bench').exitOverride();
csmsCommands(program, { out: (s) => void process.stdout.write(`${s}\n`), err: (s) => void process.stderr.write(`${s}\n`) }, (c) => (code = c));
try {
  await program.parseAsync(process.argv.slice(2), { from: 'user' });
} catch {
  code = 2;
}
await new Promise((r) => process.stdout.write('', r));
process.exit(code);
