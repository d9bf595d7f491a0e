// The CAN family's entry point: picks the transport a CanInterface resource names and builds it
// with the transport options drivers embed in their own `options:` (the `can:` block).
//
//   const bus = createCanTransport(ctx.resources.bus, ctx.options.can, { name: ctx.name, transcript: ctx.transcript, iface: 'can0' });
//
// Every transport writes the candump transcript and counts bus statistics the same way.
import { z } from 'zod';
import type { Resource } from '../../src/rig/resources.ts';
import { ReconnectOptions } from '../common/options.ts';
import { slcanBitrateCode, SlcanTransport } from './slcan.ts';
import { SocketcandTransport } from './socketcand.ts';
import { SocketcanTransport } from './socketcan.ts';
import type { CanTransport, TransportContext } from './transport.ts';

export { canFrame, frameText, type CanFrame, type CanFrameInit } from './frame.ts';
export { formatCandump, parseCandump, parseCandumpLine, replayCandump, type CandumpEntry } from './candump.ts';
export { throughputBetween, type BusStats, type CanTransport, type ThroughputWindow } from './transport.ts';

export const CanTransportOptions = z
  .object({
    serialBaud: z.number().int().positive().default(115200).describe('slcan: baud rate of the adapter\'s serial port (USB adapters ignore it)'),
    listenOnly: z.boolean().default(false).describe('slcan: open the bus listen-only (L instead of O); sending is refused'),
    timestamps: z.boolean().default(false).describe('slcan: ask the adapter for its ms timestamps (Z1)'),
    ackTimeoutMs: z.number().int().positive().default(1000).describe('slcan: how long the adapter may take to answer a command or frame'),
    connectTimeoutMs: z.number().int().positive().default(3000).describe('socketcand: TCP connect plus handshake deadline'),
    reconnect: ReconnectOptions.prefault({}).describe('Backoff when the link drops'),
  })
  .strict();
export type CanTransportOptions = z.output<typeof CanTransportOptions>;

/** Builds the transport for a CanInterface resource; throws RangeError for a bit rate slcan cannot set. */
export function createCanTransport(resource: Resource, o: CanTransportOptions, ctx: Omit<TransportContext, 'iface'> & { iface?: string }): CanTransport {
  if (resource.type !== 'CanInterface') throw new TypeError(`a CAN transport needs a CanInterface resource, got ${resource.type}`);
  const reconnect = o.reconnect;
  switch (resource.transport) {
    case 'slcan': {
      slcanBitrateCode(resource.bitrate);
      return new SlcanTransport(
        {
          path: resource.path as string,
          bitrate: resource.bitrate,
          serialBaud: o.serialBaud,
          listenOnly: o.listenOnly,
          timestamps: o.timestamps,
          ackTimeoutMs: o.ackTimeoutMs,
          reconnect,
        },
        { ...ctx, iface: ctx.iface ?? resource.iface ?? 'slcan0' },
      );
    }
    case 'socketcand':
      return new SocketcandTransport(
        { host: resource.host as string, port: resource.port as number, iface: resource.iface as string, connectTimeoutMs: o.connectTimeoutMs, reconnect },
        { ...ctx, iface: ctx.iface ?? (resource.iface as string) },
      );
    case 'socketcan':
      return new SocketcanTransport({ iface: resource.iface as string, reconnect }, { ...ctx, iface: ctx.iface ?? (resource.iface as string) });
  }
}
