// `pnc-bench rig check <file>`: validates a rig file without touching hardware and prints either a
// short summary (exit 0) or every issue as `<file>:<line>:<col>: <key.path>: <message>` (exit 2).
// Wired into the commander CLI by src/cli/main.ts; `io` keeps it testable.
//
//   process.exitCode = await rigCheck('rigs/bench-a1.yaml', { out: console.log, err: console.error });
import { formatRigIssue, loadRig, RigConfigError, type LoadedRig, type LoadRigOptions } from '../rig/load.ts';

export interface RigCheckIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

export async function rigCheck(file: string, io: RigCheckIo, opts: Pick<LoadRigOptions, 'env' | 'registry'> = {}): Promise<number> {
  let rig: LoadedRig;
  try {
    rig = await loadRig(file, opts);
  } catch (e) {
    if (!(e instanceof RigConfigError)) throw e;
    for (const i of e.issues) io.err(formatRigIssue(i));
    for (const w of e.warnings) io.err(`warning: ${formatRigIssue(w)}`);
    const n = e.issues.length;
    if (e.issues.some((i) => i.line > 0)) io.err(`${file}: invalid rig file (${n} ${n === 1 ? 'issue' : 'issues'})`);
    return 2;
  }

  const c = rig.config;
  const dut = [c.dut.vendor && `vendor ${c.dut.vendor}`, c.dut.serial && `serial ${c.dut.serial}`, c.dut.firmware && `firmware ${c.dut.firmware}`, c.dut.hardware && `hardware ${c.dut.hardware}`]
    .filter(Boolean)
    .join(', ');
  io.out(`rig ${c.id}: OK (${file})`);
  io.out(`  dut:       ${c.dut.model}${dut ? ` (${dut})` : ''}`);
  if (c.class) io.out(`  class:     ${c.class}`);
  if (c.location) io.out(`  location:  ${c.location}`);
  io.out(`  features:  ${c.features.length > 0 ? c.features.join(', ') : '(none)'}`);
  const drivers = Object.entries(c.drivers);
  io.out(`  drivers:   ${drivers.length === 0 ? '(none)' : ''}`.trimEnd());
  for (const [name, d] of drivers) {
    const def = rig.registry.get(d.driver);
    const provides = def && def.provides.length > 0 ? def.provides.join(', ') : 'no capabilities';
    const bind = Object.entries(d.bind)
      .map(([slot, res]) => `${slot}=${res} (${c.resources[res]?.type ?? '?'})`)
      .join(', ');
    io.out(`    ${name}: ${d.driver}, provides ${provides}${bind ? `, bind ${bind}` : ''}`);
  }
  const resources = Object.keys(c.resources);
  io.out(`  resources: ${resources.length > 0 ? resources.join(', ') : '(none)'}`);
  if (c.limits.length > 0) io.out(`  limits:    ${c.limits.join(', ')}`);
  io.out(`  config:    sha256 ${rig.configHash}`);
  if (rig.warnings.length > 0) {
    io.out(`warnings (${rig.warnings.length}):`);
    for (const w of rig.warnings) io.out(`  ${formatRigIssue(w)}`);
  }
  return 0;
}
