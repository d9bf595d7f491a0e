// The native SocketCAN transport: the compiled `socketcan` addon loads and refuses a missing
// interface with a LinkError that says what to check; with a `vcan0` interface on the host, two
// transports exchange frames end to end (skipped, with the reason, on kernels without CAN).
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { LinkError } from '../../../drivers/capabilities.ts';
import { canFrame, frameText, type CanFrame } from '../../../drivers/can/frame.ts';
import { SocketcanTransport } from '../../../drivers/can/socketcan.ts';

const VCAN = 'vcan0';
const hasVcan = existsSync(`/sys/class/net/${VCAN}`);
const NO_VCAN = `no ${VCAN} interface on this host (kernel without AF_CAN/vcan; create one with: modprobe vcan && ip link add dev ${VCAN} type vcan && ip link set up ${VCAN})`;

const open: SocketcanTransport[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close(200);
});

const transport = (iface: string): SocketcanTransport => {
  const t = new SocketcanTransport({ iface, reconnect: { minMs: 50, maxMs: 100 } }, { name: 'ccu_bus', iface });
  open.push(t);
  return t;
};

describe('socketcan transport', () => {
  it('loads the compiled addon and refuses an interface that does not exist', async () => {
    const t = transport('pncnocan7');
    const e = await t.open(AbortSignal.timeout(2000)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as Error).message).toMatch(/^ccu_bus: cannot open SocketCAN interface "pncnocan7" \(.+\): does it exist and is it up\? \(ip link show pncnocan7\)$/);
    expect(t.isUp).toBe(false);
  });

  if (!hasVcan) console.info(`socketcan end-to-end test skipped: ${NO_VCAN}`);
  it.skipIf(!hasVcan)(`exchanges frames between two sockets on ${VCAN} [skipped when: ${NO_VCAN}]`, async () => {
    const a = transport(VCAN);
    const b = transport(VCAN);
    await a.open(AbortSignal.timeout(2000));
    await b.open(AbortSignal.timeout(2000));
    const rx: CanFrame[] = [];
    b.onFrame((f) => rx.push(f));
    await a.send(canFrame({ id: 0x029c00f0, ext: true, data: [0, 6, 0x1a, 0x80, 0, 0, 0xc3, 0x50] }), AbortSignal.timeout(1000));
    await a.send(canFrame({ id: 0x123, rtr: true, dlc: 2 }), AbortSignal.timeout(1000));
    const t0 = Date.now();
    while (rx.length < 2 && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 5));
    expect(rx.map(frameText)).toEqual(['029C00F0#00061A800000C350', '123#R2']);
    expect(a.stats().txFrames).toBe(2);
  });
});
