#!/usr/bin/env node
// Entry point of the `pnc-bench` command. Suites are TypeScript files loaded at run time,
// so the command runs from source through tsx's ESM loader; there is no build step.
import { register } from 'tsx/esm/api';

register();
// `pnc-bench … | head` closes our stdout early: that is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
// Exit explicitly once the output is flushed: a phase body that ignored its cancellation, or a
// driver's stray handle, must not keep a finished run (and a nightly CI job) alive.
await new Promise((resolve) => process.stdout.write('', resolve));
await new Promise((resolve) => process.stderr.write('', resolve));
process.exit(code);
