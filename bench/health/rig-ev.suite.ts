// Rig health, EV emulator: its driver is connected to the broker (MQTT for the EVerest car
// simulator) and has seen the emulator's state. Runs first (bench/health/); a failed check ends the
// run INFRA (rig-checks.ts).
import { defineSuite, phase, type Drivers } from '../../src/runner/suite.ts';
import { check } from './rig-checks.ts';

const uses = { ev: 'EvEmulator' } as const;
type D = Drivers<typeof uses>;

const broker = phase<D>(
  { name: 'broker_reachable', description: 'The EV emulator driver is connected to its broker (its health()).', timeoutMs: 10_000 },
  async (ctx) => {
    await check(ctx, 'ev', 'broker_reachable', () => ctx.d.ev.health(ctx.signal));
  },
);

export default defineSuite({
  name: 'rig-ev',
  version: '1.0.0',
  description: 'Rig health: the EV emulator is reachable through its broker.',
  requires: ['ev'],
  uses,
  main: [broker],
});
