// Test peer: an in-process CAN bus. Adapters (the slcan device on a pty, the socketcand server) and
// simulated nodes (an InfyPower module) attach to it; a frame one of them transmits is delivered to
// every other one, as on a real wire. Frames here are the peers' own plain objects, independent of
// the driver code under test.
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
  /** Every frame that crossed the bus, for assertions. */
  readonly log: BusFrame[] = [];
  keepLog = true;

  attach(n: BusNode): () => void {
    this.nodes.add(n);
    return () => this.nodes.delete(n);
  }

  transmit(from: BusNode | undefined, f: BusFrame): void {
    if (this.keepLog) this.log.push(f);
    for (const n of this.nodes) if (n !== from) n.deliver(f);
  }
}

export const busFrame = (id: number, ext: boolean, data: number[] | Buffer): BusFrame => ({ id, ext, rtr: false, dlc: data.length, data: Buffer.from(data) });
