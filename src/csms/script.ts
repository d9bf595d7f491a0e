// Per-charger scripting state: response rules (how to answer the next N matching calls), the inbox
// of received calls not yet consumed by an expectation, and the expectations waiting for a call.
// Keys are action names as suites write them: `BootNotification`, `DataTransfer` (other vendors),
// `DataTransfer.<messageId>` (PnC), or `*` for any call.
//
//   const rule = script.addRule('DataTransfer.Authorize', { status: 'Blocked' }, { times: 1 });
//   const call = await script.expect('DataTransfer.Authorize', { timeoutMs: 30_000, signal });
//   script.takeRule(call)  // the dispatcher asks which plan applies to an incoming call
import { ProtocolViolation } from '../../drivers/capabilities.ts';
import { abortReason } from '../../drivers/common/abort.ts';
import { CsmsUsageError } from './errors.ts';
import type { ExpectOptions, ReceivedCall, ResponsePlan } from './types.ts';

export interface RuleOptions {
  /** how many calls the rule answers (default 1; Infinity for all) */
  times?: number;
  match?: (call: ReceivedCall) => boolean;
}

export interface RuleHandle {
  /** calls this rule has answered so far */
  readonly used: number;
  remove(): void;
}

interface Rule {
  key: string;
  plan: ResponsePlan;
  remaining: number;
  used: number;
  match: ((call: ReceivedCall) => boolean) | undefined;
  onMatch: ((call: ReceivedCall) => void) | undefined;
}

interface Waiter {
  key: string;
  match: ((call: ReceivedCall) => boolean) | undefined;
  resolve(call: ReceivedCall): void;
}

const RESPONSE_ACTIONS = ['answer', 'never', 'drop', 'malformed', 'error'] as const;

/** Checks a plan when it is scripted, so a suite bug surfaces in the suite, not as a strange answer later. */
export function checkPlan(plan: ResponsePlan): void {
  if (typeof plan !== 'object' || plan === null) throw new CsmsUsageError('a response plan must be an object');
  const action = plan.action ?? 'answer';
  if (!(RESPONSE_ACTIONS as readonly string[]).includes(action)) throw new CsmsUsageError(`response plan action "${String(action)}" is not one of ${RESPONSE_ACTIONS.join(', ')}`);
  if (plan.delayMs !== undefined && !(Number.isFinite(plan.delayMs) && plan.delayMs >= 0)) throw new CsmsUsageError(`response plan delayMs must be a number >= 0, got ${String(plan.delayMs)}`);
  if (action === 'error' && (typeof plan.error?.code !== 'string' || plan.error.code.length === 0)) throw new CsmsUsageError("response plan action 'error' needs error.code");
  if (action === 'malformed' && plan.malformed === undefined) throw new CsmsUsageError("response plan action 'malformed' needs malformed (e.g. 'not-json')");
  if (typeof plan.followUp === 'object' && !(Number.isFinite(plan.followUp.delayMs) && plan.followUp.delayMs >= 0)) throw new CsmsUsageError('response plan followUp.delayMs must be a number >= 0');
}

function safeMatch(fn: ((call: ReceivedCall) => boolean) | undefined, call: ReceivedCall): boolean {
  if (!fn) return true;
  try {
    return fn(call) === true;
  } catch {
    return false;
  }
}

/** Calls kept per action key until an expectation consumes them (the oldest go first). */
export const DEFAULT_INBOX_PER_ACTION = 16;

/** An answered call as the inbox keeps it: the frames (UTF-8) and the facts to rebuild the call from. */
export interface PackedCall {
  inBytes: Buffer;
  outBytes: Buffer;
  t: number;
  doneT: number;
  flags: number;
}

/**
 * How the inbox keeps answered calls as bytes instead of objects (the mock CSMS's call records). On a
 * busy CSMS the calls kept for a later expectCall are most of what outlives a minor GC; as bytes in
 * reused buffers they cost the garbage collector nothing.
 */
export interface InboxPacker {
  /** the call's texts and facts when it can be rebuilt from them (answered, nothing unusual), else undefined */
  pack(call: ReceivedCall): PackedCall | undefined;
  /** the call again, equal in everything suites can see */
  unpack(action: string, p: PackedCall): ReceivedCall;
}

const MAX_PACKED_BYTES = 32 * 1024;

/** The unconsumed calls of one action key, oldest first: call objects, or slots of packed calls. */
class KeyInbox {
  /** a call object, or the slot number of a packed call */
  readonly entries: (ReceivedCall | number)[] = [];
  private readonly bufs: Buffer[] = [];
  private readonly inLen: number[] = [];
  private readonly outLen: number[] = [];
  private readonly t: number[] = [];
  private readonly doneT: number[] = [];
  private readonly flags: number[] = [];
  private readonly free: number[] = [];

  /** Packs the calls answered since the last look (the newest ones, usually just one). */
  pack(packer: InboxPacker): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i] as ReceivedCall | number;
      if (typeof e === 'number') break;
      const p = packer.pack(e);
      // a very large call (a certificate chain, a big local list) stays an object: no slot grows that big
      if (p !== undefined && p.inBytes.length + p.outBytes.length <= MAX_PACKED_BYTES) this.entries[i] = this.store(p);
    }
  }

  /** Time of entry i (without rebuilding a packed call). */
  timeOf(i: number): number {
    const e = this.entries[i] as ReceivedCall | number;
    return typeof e === 'number' ? (this.t[e] as number) : e.t;
  }

  /** Entry i as a call (a packed call is rebuilt; the entry stays). */
  call(i: number, action: string, packer: InboxPacker): ReceivedCall {
    const e = this.entries[i] as ReceivedCall | number;
    if (typeof e !== 'number') return e;
    const buf = this.bufs[e] as Buffer;
    const inLen = this.inLen[e] as number;
    // copies: the slot is reused once the entry goes
    const p: PackedCall = {
      inBytes: Buffer.from(buf.subarray(0, inLen)),
      outBytes: Buffer.from(buf.subarray(inLen, inLen + (this.outLen[e] as number))),
      t: this.t[e] as number,
      doneT: this.doneT[e] as number,
      flags: this.flags[e] as number,
    };
    return packer.unpack(action, p);
  }

  /** Removes entry i (its slot is reused). */
  remove(i: number): void {
    const [e] = this.entries.splice(i, 1);
    if (typeof e === 'number') this.free.push(e);
  }

  private store(p: PackedCall): number {
    const inLen = p.inBytes.length;
    const need = inLen + p.outBytes.length;
    const slot = this.free.length > 0 ? (this.free.pop() as number) : this.bufs.length;
    let buf = this.bufs[slot];
    if (buf === undefined || buf.length < need) this.bufs[slot] = buf = Buffer.allocUnsafeSlow(Math.max(256, 2 ** Math.ceil(Math.log2(need))));
    buf.set(p.inBytes, 0);
    buf.set(p.outBytes, inLen);
    this.inLen[slot] = inLen;
    this.outLen[slot] = need - inLen;
    this.t[slot] = p.t;
    this.doneT[slot] = p.doneT;
    this.flags[slot] = p.flags;
    return slot;
  }
}

export class CallScript {
  private rules: Rule[] = [];
  /** action key → unconsumed calls; bounded per key so frequent calls never evict rare ones */
  private inbox = new Map<string, KeyInbox>();
  private waiters: Waiter[] = [];

  constructor(
    private readonly inboxLimit: number,
    private readonly packer: InboxPacker,
  ) {}

  addRule(key: string, plan: ResponsePlan, opts: RuleOptions = {}, onMatch?: (call: ReceivedCall) => void): RuleHandle {
    checkPlan(plan);
    const times = opts.times ?? 1;
    if (!(times >= 1)) throw new CsmsUsageError(`times must be >= 1 (or Infinity), got ${String(times)}`);
    const rule: Rule = { key, plan, remaining: times, used: 0, match: opts.match, onMatch };
    this.rules.push(rule);
    return {
      get used() {
        return rule.used;
      },
      remove: () => {
        this.rules = this.rules.filter((r) => r !== rule);
      },
    };
  }

  /**
   * The plan of the first rule matching `call` (using it up once), or undefined for the default answer.
   * `consumed` is true when the rule belonged to an expectation (`expectCall(..., { respond })`), which
   * then already has the call.
   */
  takeRule(call: ReceivedCall): { plan: ResponsePlan; consumed: boolean } | undefined {
    for (const r of this.rules) {
      if ((r.key === call.action || r.key === '*') && safeMatch(r.match, call)) {
        r.used++;
        if (--r.remaining <= 0) this.rules = this.rules.filter((x) => x !== r);
        r.onMatch?.(call);
        return { plan: r.plan, consumed: r.onMatch !== undefined };
      }
    }
    return undefined;
  }

  /**
   * A call arrived (and was not consumed by an expectation's rule): hand it to the first waiting
   * expectation, else keep it in the inbox. A call with violations is never answered by a rule, so an
   * expectation with `respond` that matches it gets it here (and rejects).
   */
  deliver(call: ReceivedCall): void {
    if (call.violations.length > 0) {
      const r = this.rules.find((x) => x.onMatch !== undefined && (x.key === call.action || x.key === '*') && safeMatch(x.match, call));
      if (r) {
        this.rules = this.rules.filter((x) => x !== r);
        r.onMatch?.(call);
        return;
      }
    }
    const i = this.waiters.findIndex((w) => (w.key === call.action || w.key === '*') && safeMatch(w.match, call));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w?.resolve(call);
      return;
    }
    if (this.inboxLimit <= 0) return;
    let box = this.inbox.get(call.action);
    if (!box) this.inbox.set(call.action, (box = new KeyInbox()));
    else box.pack(this.packer);
    box.entries.push(call);
    if (box.entries.length > this.inboxLimit) box.remove(0);
  }

  /** Calls received and not consumed by an expectation, oldest first. */
  pending(): ReceivedCall[] {
    const out: ReceivedCall[] = [];
    for (const [action, box] of this.inbox) for (let i = 0; i < box.entries.length; i++) out.push(box.call(i, action, this.packer));
    return out.sort((a, b) => a.t - b.t);
  }

  /** How many calls wait in the inbox (without rebuilding them). */
  pendingCount(): number {
    let n = 0;
    for (const box of this.inbox.values()) n += box.entries.length;
    return n;
  }

  /** Removes and returns the oldest unconsumed call matching key (or '*'), `since` and `match`. */
  private takeFromInbox(key: string, since: number | undefined, match: ((call: ReceivedCall) => boolean) | undefined): ReceivedCall | undefined {
    let best: { box: KeyInbox; i: number; call: ReceivedCall } | undefined;
    const boxes: [string, KeyInbox][] = key === '*' ? [...this.inbox] : this.inbox.has(key) ? [[key, this.inbox.get(key) as KeyInbox]] : [];
    for (const [action, box] of boxes) {
      for (let i = 0; i < box.entries.length; i++) {
        const t = box.timeOf(i);
        if (since !== undefined && t < since) continue;
        if (best !== undefined && t >= best.call.t) break;
        const c = box.call(i, action, this.packer);
        if (!safeMatch(match, c)) continue;
        best = { box, i, call: c };
        break;
      }
    }
    if (!best) return undefined;
    best.box.remove(best.i);
    return best.call;
  }

  /**
   * Waits for a call. `timeoutError` builds the error for a timeout (the owner knows whether the charger
   * was connected: LinkError vs ProtocolViolation). A call carrying violations rejects with ProtocolViolation.
   */
  expect(key: string, opts: ExpectOptions, timeoutError: () => Error): Promise<ReceivedCall> {
    if (!(Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0)) return Promise.reject(new CsmsUsageError(`expectCall(${key}): timeoutMs must be > 0`));
    if (opts.respond) checkPlan(opts.respond);
    return new Promise<ReceivedCall>((resolve, reject) => {
      if (opts.signal.aborted) return reject(abortReason(opts.signal));
      let done = false;
      let rule: RuleHandle | undefined;
      let waiter: Waiter | undefined;
      const finish = (call: ReceivedCall | undefined, err?: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
        rule?.remove();
        if (waiter) this.waiters = this.waiters.filter((w) => w !== waiter);
        if (err) reject(err);
        else if (call && call.violations.length > 0) {
          const v = call.violations[0] as (typeof call.violations)[number];
          reject(new ProtocolViolation(v.rule, `${call.chargePointId} ${call.action}: ${v.message}${call.violations.length > 1 ? ` (+${call.violations.length - 1} more)` : ''}`));
        } else resolve(call as ReceivedCall);
      };
      const onAbort = (): void => finish(undefined, abortReason(opts.signal));
      const timer = setTimeout(() => finish(undefined, timeoutError()), opts.timeoutMs);
      opts.signal.addEventListener('abort', onAbort, { once: true });
      if (opts.respond) {
        rule = this.addRule(key, opts.respond, { times: 1, ...(opts.match ? { match: opts.match } : {}) }, (call) => finish(call));
        return;
      }
      const c = this.takeFromInbox(key, opts.since, opts.match);
      if (c) {
        finish(c);
        return;
      }
      waiter = { key, match: opts.match, resolve: (c) => finish(c) };
      this.waiters.push(waiter);
    });
  }
}
