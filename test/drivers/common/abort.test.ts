// waitFor: the shared "wait for the next event, honouring a signal and a deadline" of the drivers.
// Whatever ends the wait, the subscription is released.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../drivers/common/abort.ts';

function source<T>() {
  const listeners = new Set<(v: T) => void>();
  return {
    listeners,
    subscribe: (deliver: (v: T) => void) => {
      listeners.add(deliver);
      return () => listeners.delete(deliver);
    },
    emit: (v: T) => {
      for (const l of listeners) l(v);
    },
  };
}

describe('waitFor', () => {
  it('resolves with the delivered value and unsubscribes', async () => {
    const s = source<number>();
    const p = waitFor(s.subscribe, 1000, new AbortController().signal, () => new Error('timeout'));
    expect(s.listeners.size).toBe(1);
    s.emit(7);
    await expect(p).resolves.toBe(7);
    expect(s.listeners.size).toBe(0);
  });

  it('rejects with onTimeout() after the deadline and unsubscribes', async () => {
    const s = source<number>();
    await expect(waitFor(s.subscribe, 20, new AbortController().signal, () => new Error('no state X within 20 ms'))).rejects.toThrow('no state X within 20 ms');
    expect(s.listeners.size).toBe(0);
  });

  it('rejects with the abort reason and unsubscribes; an aborted signal never subscribes', async () => {
    const s = source<number>();
    const ctl = new AbortController();
    const p = waitFor(s.subscribe, 1000, ctl.signal, () => new Error('timeout'));
    ctl.abort(new Error('phase timeout'));
    await expect(p).rejects.toThrow('phase timeout');
    expect(s.listeners.size).toBe(0);
    await expect(waitFor(s.subscribe, 1000, ctl.signal, () => new Error('timeout'))).rejects.toThrow('phase timeout');
    expect(s.listeners.size).toBe(0);
  });

  it('handles a value delivered while subscribing', async () => {
    let released = false;
    const p = waitFor<string>(
      (deliver) => {
        deliver('now');
        return () => {
          released = true;
        };
      },
      1000,
      new AbortController().signal,
      () => new Error('timeout'),
    );
    await expect(p).resolves.toBe('now');
    expect(released).toBe(true);
  });
});
