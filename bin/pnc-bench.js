#!/usr/bin/env node
// Entry point of the `pnc-bench` command. Suites are TypeScript files loaded at run time,
// so the command runs from source through tsx's ESM loader; there is no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
