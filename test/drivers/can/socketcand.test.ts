// The socketcand transport over real TCP on 127.0.0.1 against a simulated socketcand daemon bridged
// to a virtual bus: handshake, frames both ways, refusals, error elements, daemon restart.
import { afterEach, describe, expect, it } from 'vitest';
import { LinkError } from '../../../drivers/capabilities.ts';
import { parseCandump } from '../../../drivers/can/candump.ts';
import { canFrame, frameText, type CanFrame } from '../../../drivers/can/frame.ts';
import { SocketcandTransport } from '../../../drivers/can/socketcand.ts';
import { Transcript } from '../../../src/rig/transcript.ts';
import { closedPort } from '../../helpers/influxd.ts';
import { SocketcandServer } from '../../../rigs/virtual/socketcand-server.ts';
import { busFrame, VirtualBus, type BusFrame } from '../../../rigs/virtual/can-bus.ts';

const signal = (): AbortSignal => AbortSignal.timeout(5000);
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const until = async (cond: () => boolean, ms = 3000): Promise<void> => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

async function setup(iface = 'vcan0', port?: number) {
  const bus = new VirtualBus();
  const server = new SocketcandServer(bus, 'vcan0');
  await server.start();
  cleanup.push(() => server.stop());
  const transcript = new Transcript({ ext: 'candump', mime: 'text/plain' });
  const t = new SocketcandTransport(
    { host: '127.0.0.1', port: port ?? server.port, iface, connectTimeoutMs: 1000, reconnect: { minMs: 50, maxMs: 200 } },
    { name: 'ccu_bus', transcript, iface },
  );
  cleanup.push(() => t.close(500));
  const rx: CanFrame[] = [];
  t.onFrame((f) => rx.push(f));
  const heard: BusFrame[] = [];
  bus.attach({ deliver: (f) => heard.push(f) });
  return { bus, server, t, transcript, rx, heard };
}

describe('socketcand transport', () => {
  it('does the hi/open/rawmode handshake and moves frames both ways', async () => {
    const { bus, server, t, transcript, rx, heard } = await setup();
    await t.open(signal());
    expect(server.commands).toEqual(['open vcan0', 'rawmode']);
    await t.send(canFrame({ id: 0x1aaaaaaa, ext: true, data: [0x01, 0xf1] }), signal());
    await t.send(canFrame({ id: 0x123, data: [] }), signal());
    await until(() => heard.length === 2);
    expect(server.commands.slice(2)).toEqual(['send 1AAAAAAA 2 01 F1', 'send 123 0']);
    expect(heard.map((f) => [f.id, f.ext])).toEqual([
      [0x1aaaaaaa, true],
      [0x123, false],
    ]);
    bus.transmit(undefined, busFrame(0x0283f000, true, [0x43, 0xc8, 0, 0, 0x42, 0x48, 0, 0]));
    await until(() => rx.length === 1);
    expect(frameText(rx[0] as CanFrame)).toBe('0283F000#43C8000042480000');
    const log = parseCandump(transcript.cut().toString());
    expect(log.map((e) => `${frameText(e.frame)} ${e.dir}`)).toEqual(['1AAAAAAA#01F1 T', '123# T', '0283F000#43C8000042480000 R']);
    expect(t.describe()).toMatch(/^socketcand 127\.0\.0\.1:\d+ vcan0 connected \(rx 1, tx 2/);
  });

  it('refuses remote frames, counts error elements and garbage', async () => {
    const { server, t } = await setup();
    await t.open(signal());
    await expect(t.send(canFrame({ id: 1, rtr: true }), signal())).rejects.toThrow('socketcand raw mode cannot send remote frame 001#R');
    server.broadcast('< error 4 1.000000 >noise< frame 12 1.0 >');
    await until(() => t.stats().errors === 3);
  });

  it('names the daemon’s answer when the bus cannot be opened, and a port nobody listens on', async () => {
    const { t } = await setup('can9');
    const e = await t.open(signal()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LinkError);
    expect((e as Error).message).toMatch(/^ccu_bus: socketcand 127\.0\.0\.1:\d+: "< open can9 >" answered "< error could not open bus >"$/);

    const port = await closedPort();
    const dead = new SocketcandTransport({ host: '127.0.0.1', port, iface: 'vcan0', connectTimeoutMs: 500, reconnect: { minMs: 50, maxMs: 100 } }, { name: 'bus', iface: 'vcan0' });
    await expect(dead.open(signal())).rejects.toThrow(new RegExp(`^bus: socketcand 127.0.0.1:${port}: .*ECONNREFUSED`));
    await dead.close(100);
  });

  it('survives a daemon restart: LinkError while down, then reconnects and redoes the handshake', async () => {
    const { bus, server, t, rx } = await setup();
    const links: boolean[] = [];
    t.onLink((up) => links.push(up));
    await t.open(signal());
    const port = server.port;
    await server.stop();
    await until(() => !t.isUp);
    await expect(t.send(canFrame({ id: 2 }), signal())).rejects.toThrow(/is not connected \(down for \d+ ms, reconnecting\)/);
    await new Promise((r) => setTimeout(r, 150));
    await server.start(port);
    await until(() => t.isUp, 5000);
    expect(t.reconnects).toBe(1);
    expect(links).toEqual([true, false, true]);
    expect(server.commands.filter((c) => c === 'rawmode')).toHaveLength(2);
    bus.transmit(undefined, busFrame(0x42, false, [1]));
    await until(() => rx.length === 1);
    await t.send(canFrame({ id: 0x43, data: [2] }), signal());
    await until(() => server.framesFromClients === 1);
  });

  it('close settles within its deadline', async () => {
    const { t } = await setup();
    await t.open(signal());
    const t0 = Date.now();
    await t.close(300);
    expect(Date.now() - t0).toBeLessThan(500);
    await expect(t.send(canFrame({ id: 1 }), signal())).rejects.toThrow(LinkError);
  });
});
