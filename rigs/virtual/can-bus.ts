// The virtual rig's CAN wire: an in-process bus that adapters (the slcan adapter on a pty, the
// socketcand daemon on TCP) and simulated nodes (the InfyPower module) attach to. A frame one node
// transmits is delivered to every other node, as on a real wire. Frames are plain objects of the
// simulators, independent of the bench's CAN driver code.
//
//   const bus = new VirtualBus();
//   const detach = bus.attach({ deliver: (f) => … });
//   bus.transmit(undefined, busFrame(0x029c00f0, true, [0, 6, 0x1a, 0x80, 0, 0, 0xc3, 0x50]));
export interface BusFrame {
  id: number;
  ext: boolean;
  rtr: boolean;
  dlc: number;
  data: Buffer;
}

export interface BusNode {
  deliver(f: BusFrame): void;
}

export class VirtualBus {
  private nodes = new Set<BusNode>();
  /** Every frame that crossed the bus while `keepLog` is true (tests assert on it). */
  readonly log: BusFrame[] = [];
  keepLog = true;
  /** Frames that crossed the bus since it was made. */
  frames = 0;

  attach(n: BusNode): () => void {
    this.nodes.add(n);
    return () => this.nodes.delete(n);
  }

  transmit(from: BusNode | undefined, f: BusFrame): void {
    this.frames += 1;
    if (this.keepLog) this.log.push(f);
    for (const n of this.nodes) if (n !== from) n.deliver(f);
  }
}

export const busFrame = (id: number, ext: boolean, data: number[] | Buffer): BusFrame => ({ id, ext, rtr: false, dlc: data.length, data: Buffer.from(data) });
