// The live server's rig health probe (between runs): starts the rig's simulated hardware when it has
// any, opens each driver, asks its health() and snapshot(), closes everything and stops the
// simulator. Never throws: a driver that does not open is reported not ok with the reason; a
// simulator that does not start makes every driver not ok and sets `error`. It takes no lock itself:
// the server (server.ts) refuses a probe while a run is in progress (409), and a run accepted during a
// probe waits for the probe to end before its session touches the rig, so the two never share it.
//
//   const r = await probeRig('rigs/virtual.yaml');   // { drivers: { meter: { ok, detail, ... } }, error }
import type { JsonObject } from '../../drivers/capabilities.ts';
import { loadRig, type LoadedRig } from '../rig/load.ts';
import { Rig } from '../rig/rig.ts';
import { startSimulator, type RunningSimulator } from '../rig/simulator.ts';
import { nowMs as now } from '../../drivers/common/time.ts';
import type { DriverHealth } from './events.ts';

export interface ProbeResult {
  drivers: Record<string, { health: DriverHealth; snapshot: JsonObject | null }>;
  /** Why the probe could not check the drivers at all (simulator did not start, rig file changed). */
  error: string | null;
}

const msg = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function probeRig(rigFile: string, loaded: LoadedRig): Promise<ProbeResult> {
  const { openMs, closeMs } = loaded.config.timeouts;
  const drivers: ProbeResult['drivers'] = {};
  const allDown = (why: string): ProbeResult => {
    for (const name of Object.keys(loaded.config.drivers)) drivers[name] = { health: { ok: false, detail: why, check: 'probe', reconnects: 0, t: now() }, snapshot: null };
    return { drivers, error: why };
  };
  let sim: RunningSimulator | undefined;
  let rigFileNow = loaded;
  try {
    if (loaded.simulator) {
      try {
        sim = await startSimulator(loaded.simulator, loaded.dir, AbortSignal.timeout(openMs), () => {});
        rigFileNow = await loadRig(rigFile, { simulatorEnv: sim.env });
      } catch (e) {
        return allDown(`simulated hardware (${loaded.simulator.def.name}) did not start: ${msg(e)}`);
      }
    }
    let rig: Rig;
    try {
      rig = new Rig(rigFileNow, () => {});
    } catch (e) {
      return allDown(`drivers could not be created: ${msg(e)}`);
    }
    try {
      for (const name of rig.names()) {
        let health: DriverHealth;
        try {
          await rig.open([name], AbortSignal.timeout(openMs), openMs);
          const h = (await rig.health([name], AbortSignal.timeout(openMs), openMs))[name];
          health = { ok: h?.ok ?? false, detail: h?.detail ?? 'no answer', check: 'probe', reconnects: h?.reconnects ?? 0, t: now() };
        } catch (e) {
          health = { ok: false, detail: msg(e), check: 'probe', reconnects: 0, t: now() };
        }
        let snapshot: JsonObject | null = null;
        try {
          snapshot = rig.slot(name).opened ? (JSON.parse(JSON.stringify(rig.slot(name).instance.snapshot())) as JsonObject) : null;
        } catch {
          snapshot = null;
        }
        drivers[name] = { health, snapshot };
      }
    } finally {
      await rig.closeAll(closeMs);
    }
    return { drivers, error: null };
  } finally {
    await sim?.stop(closeMs).catch(() => {});
  }
}
