// Rig health, SECC console: the serial port is present and open. Runs first (bench/health/); a failed
// check ends the run INFRA (rig-checks.ts).
import { defineSuite, phase, type Drivers } from '../../src/runner/suite.ts';
import { check } from './rig-checks.ts';

const uses = { secc: 'Secc' } as const;
type D = Drivers<typeof uses>;

const port = phase<D>(
  { name: 'port_present', description: 'The SECC console\'s serial link is open (its health()).', timeoutMs: 10_000 },
  async (ctx) => {
    await check(ctx, 'secc', 'port_present', (signal) => ctx.d.secc.health(signal));
  },
);

export default defineSuite({
  name: 'rig-console',
  version: '1.0.0',
  description: 'Rig health: the SECC console port is present and open.',
  requires: ['console'],
  uses,
  main: [port],
});
