// Waiting with a bound, for the simulators' stop() paths and for answers a device must not wait on
// forever: races a promise against a timer and clears the timer as soon as the promise settles (a
// pending timer would keep the process alive).
//
//   await settleWithin(new Promise<void>((r) => server.close(() => r())), 1_000);
//   if ((await settleWithin(device.stop(), leftMs)) === 'timeout') log('still stopping');

/** Resolves when `p` settles (a rejection is swallowed: handle it before if it matters) or after `ms`, whichever comes first. */
export async function settleWithin(p: Promise<unknown>, ms: number): Promise<'settled' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, ms))));
  const r = await Promise.race([p.then(() => 'settled' as const, () => 'settled' as const), timeout]);
  clearTimeout(timer);
  return r;
}
