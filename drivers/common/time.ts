// Wall-clock timestamps for transcripts and events, with the µs resolution of performance.now():
// `nowMs()` is epoch milliseconds as a float, `nowUs()` epoch microseconds as an integer. Drivers stamp
// every frame, line and reading with these so records line up with the runner's own clock.

export const nowMs = (): number => performance.timeOrigin + performance.now();

export const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** `1700000000.123456` — epoch seconds with 6 decimals, the candump and hex-log time format. */
export function epochSecondsText(us: number): string {
  const sec = Math.floor(us / 1e6);
  const frac = us - sec * 1e6;
  return `${String(sec).padStart(10, '0')}.${String(frac).padStart(6, '0')}`;
}
