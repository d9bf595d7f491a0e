// Small helpers that make every wait of a driver honour an AbortSignal and a deadline:
//   await abortable(promise, signal)      rejects with signal.reason as soon as the signal aborts
//   await sleep(ms, signal)               a cancellable delay
//   await settleWithin(promise, ms)       'timeout' when the promise did not settle in time (for close())
//   await waitFor(subscribe, ms, signal, onTimeout)  the next value an event source delivers
// The promise passed to `abortable` keeps running; callers that own a resource (a queue slot, a
// pending request) must release it themselves.

/** The reason an already aborted signal carries, as an Error. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new Error(`aborted: ${String(r)}`);
}

export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      p.catch(() => {});
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Waits for an event source to deliver a value. `subscribe` registers the delivery callback and
 * returns how to unregister it; it is unregistered however the wait ends. Rejects with the abort
 * reason when `signal` aborts, or with `onTimeout()` after `timeoutMs`.
 */
export function waitFor<T>(subscribe: (deliver: (v: T) => void) => () => void, timeoutMs: number, signal: AbortSignal, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal));
    let ended = false;
    let unsubscribe: (() => void) | undefined;
    const end = (): void => {
      ended = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      unsubscribe?.();
    };
    const onAbort = (): void => {
      end();
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      end();
      reject(onTimeout());
    }, timeoutMs);
    signal.addEventListener('abort', onAbort, { once: true });
    const off = subscribe((v) => {
      end();
      resolve(v);
    });
    if (ended) off(); // delivered during subscribe
    else unsubscribe = off;
  });
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves with the value, or 'timeout' when `ms` passed first. Never rejects. */
export async function settleWithin<T>(p: Promise<T>, ms: number): Promise<T | 'timeout' | 'failed'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, ms));
  });
  try {
    return await Promise.race([p.catch((): 'failed' => 'failed'), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Text of anything thrown. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}
