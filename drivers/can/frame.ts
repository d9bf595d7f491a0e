// The one CAN frame model shared by every transport (socketcan, slcan, socketcand), the candump
// log and the CCU codecs. Classic CAN 2.0A/B only: id without flag bits, `ext` for 29-bit ids,
// `rtr` for remote frames (which carry a DLC but no data), up to 8 data bytes, and the time the
// frame was seen in epoch microseconds.
//
//   const f = canFrame({ id: 0x029c00f0, ext: true, data: [0x00, 0x06, 0x1a, 0x80, 0, 0, 0xc3, 0x50] });
//
// `canFrame` validates and throws CanFrameError (a RangeError) naming what is wrong.
import { nowUs } from '../common/time.ts';

export interface CanFrame {
  /** 11-bit (0..0x7FF) or 29-bit (0..0x1FFFFFFF) identifier, never with EFF/RTR/ERR flag bits. */
  readonly id: number;
  /** true: 29-bit extended identifier. */
  readonly ext: boolean;
  /** true: remote transmission request (no data; `dlc` says the requested length). */
  readonly rtr: boolean;
  /** Data length code 0..8 (equals data.length for data frames). */
  readonly dlc: number;
  readonly data: Uint8Array;
  /** When the frame was sent or received, epoch µs. */
  readonly tsUs: number;
}

export interface CanFrameInit {
  id: number;
  ext?: boolean;
  rtr?: boolean;
  /** Bytes as an array or Uint8Array (data frames). */
  data?: ArrayLike<number>;
  /** RTR frames only: the requested length. */
  dlc?: number;
  tsUs?: number;
}

export class CanFrameError extends RangeError {
  override readonly name = 'CanFrameError';
}

export const SFF_MASK = 0x7ff;
export const EFF_MASK = 0x1fffffff;

export function canFrame(init: CanFrameInit): CanFrame {
  const ext = init.ext ?? false;
  const rtr = init.rtr ?? false;
  const { id } = init;
  if (!Number.isInteger(id) || id < 0) throw new CanFrameError(`CAN id ${String(id)} is not a non-negative integer`);
  if (!ext && id > SFF_MASK) throw new CanFrameError(`CAN id 0x${id.toString(16)} does not fit 11 bits; set ext for a 29-bit id`);
  if (ext && id > EFF_MASK) throw new CanFrameError(`CAN id 0x${id.toString(16)} does not fit 29 bits`);
  const raw = init.data ?? [];
  if (raw.length > 8) throw new CanFrameError(`CAN frame 0x${id.toString(16)}: ${raw.length} data bytes (classic CAN carries at most 8)`);
  const data = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number;
    if (!Number.isInteger(b) || b < 0 || b > 255) throw new CanFrameError(`CAN frame 0x${id.toString(16)}: data byte ${i} is ${String(b)}, not 0..255`);
    data[i] = b;
  }
  let dlc = data.length;
  if (rtr) {
    if (data.length) throw new CanFrameError(`CAN frame 0x${id.toString(16)}: a remote frame carries no data`);
    dlc = init.dlc ?? 0;
    if (!Number.isInteger(dlc) || dlc < 0 || dlc > 8) throw new CanFrameError(`CAN remote frame 0x${id.toString(16)}: DLC ${String(init.dlc)} is not 0..8`);
  } else if (init.dlc !== undefined && init.dlc !== data.length) {
    throw new CanFrameError(`CAN frame 0x${id.toString(16)}: DLC ${init.dlc} but ${data.length} data bytes`);
  }
  return { id, ext, rtr, dlc, data, tsUs: init.tsUs ?? nowUs() };
}

/** `029C00F0#00061A800000C350` style text for logs and error messages. */
export function frameText(f: CanFrame): string {
  const id = f.ext ? f.id.toString(16).toUpperCase().padStart(8, '0') : f.id.toString(16).toUpperCase().padStart(3, '0');
  if (f.rtr) return `${id}#R${f.dlc ? f.dlc : ''}`;
  return `${id}#${hex(f.data)}`;
}

export function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).toUpperCase().padStart(2, '0');
  return s;
}

export function sameFrame(a: CanFrame, b: CanFrame): boolean {
  return a.id === b.id && a.ext === b.ext && a.rtr === b.rtr && a.dlc === b.dlc && hex(a.data) === hex(b.data);
}
