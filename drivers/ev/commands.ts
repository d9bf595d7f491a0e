// The EVerest car simulator's command language (EvManager, shared/reference/rig-protocols.md §4.1):
// a string of commands the simulator runs one after another, each blocking until its condition
// holds. Parsing follows the simulator: lower-cased, newlines become `;`, split on `;`, commas
// become spaces, first token is the command; a command is known by its name AND argument count.
//
//   parseCarSimScript('iso_wait_slac_matched;iso_start_v2g_session dc,contract')
//     → [{ name: 'iso_wait_slac_matched', args: [] }, { name: 'iso_start_v2g_session', args: ['dc', 'contract'] }]
//
// `validateCarSimScript` checks every command against the known set, so a typo in a rig file is
// reported before a suite runs (the simulator itself would only log it and do nothing).

export interface CarSimCommand {
  name: string;
  args: string[];
}

/** command → accepted argument counts */
export const CARSIM_COMMANDS: Readonly<Record<string, readonly number[]>> = {
  sleep: [1],
  iec_wait_pwr_ready: [0],
  iso_wait_pwm_is_running: [0],
  draw_power_regulated: [2],
  draw_power_fixed: [2],
  pause: [0],
  unplug: [0],
  error_e: [0],
  diode_fail: [0],
  rcd_current: [1],
  set_soc: [1],
  wait_for_real_plugin: [0],
  plugin: [0],
  iso_wait_slac_matched: [0],
  iso_start_v2g_session: [1, 2, 3, 4],
  iso_wait_pwr_ready: [0],
  iso_dc_power_on: [0],
  iso_draw_power_regulated: [2],
  iso_stop_charging: [0],
  iso_pause_charging: [0],
  iso_wait_for_stop: [1],
  iso_wait_v2g_session_stopped: [0],
  iso_wait_for_resume: [0],
  iso_start_bcb_toggle: [1],
};

export function parseCarSimScript(script: string): CarSimCommand[] {
  return script
    .toLowerCase()
    .replace(/\r?\n/g, ';')
    .split(';')
    .map((s) => s.replace(/,/g, ' ').trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const [name = '', ...args] = s.split(/\s+/);
      return { name, args };
    });
}

/** Problems of a script, one message each (empty when it is valid). */
export function validateCarSimScript(script: string): string[] {
  const problems: string[] = [];
  const cmds = parseCarSimScript(script);
  if (!cmds.length) problems.push('the script has no commands');
  for (const c of cmds) {
    const counts = CARSIM_COMMANDS[c.name];
    if (!counts) problems.push(`unknown command "${c.name}"`);
    else if (!counts.includes(c.args.length)) problems.push(`"${c.name}" takes ${counts.join(' or ')} argument(s), got ${c.args.length}`);
  }
  return problems;
}

/** Replaces `{name}` placeholders; throws for one that has no value. */
export function fillScript(script: string, values: Readonly<Record<string, string | number>>): string {
  return script.replace(/\{(\w+)\}/g, (m, k: string) => {
    const v = values[k];
    if (v === undefined) throw new RangeError(`script placeholder ${m} is not one of ${Object.keys(values).map((x) => `{${x}}`).join(', ')}`);
    return String(v);
  });
}
