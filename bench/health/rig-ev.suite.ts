// Rig health, EV emulator: its driver's health() — for the EVerest car simulator driver, that its MQTT
// client is connected to the broker the emulator listens on. It does not prove the emulator itself
// answers (the detail names the last EV state the driver saw, if any). Runs first (bench/health/); a
// failed check ends the run INFRA (rig-checks.ts).
import { defineSuite, phase, type Drivers } from '../../src/runner/suite.ts';
import { check } from './rig-checks.ts';

const uses = { ev: 'EvEmulator' } as const;
type D = Drivers<typeof uses>;

const broker = phase<D>(
  { name: 'broker_reachable', description: 'The EV emulator driver is connected to its broker (its health()).', timeoutMs: 10_000 },
  async (ctx) => {
    await check(ctx, 'ev', 'broker_reachable', (signal) => ctx.d.ev.health(signal));
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
