// Resource types: the "where" half of a rig file (a serial path, a CAN interface, a Modbus host).
// Resources are passive descriptions; drivers bind to them by name and say "how". Each type is a
// strict zod schema, so an unknown or misspelt key is an error with its exact path.
import { z } from 'zod';

const port = z.number().int().min(1).max(65535);
const host = z.string().min(1);

export const RESOURCE_TYPES = {
  /** A serial device: prefer /dev/serial/by-id/... so the path survives re-plugging. */
  SerialPort: z
    .object({
      type: z.literal('SerialPort'),
      path: z.string().min(1),
      baud: z.number().int().positive().default(115200),
      dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
      parity: z.enum(['none', 'even', 'odd']).default('none'),
      stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
    })
    .strict(),
  /** A CAN bus reached through one of three transports sharing one frame model. */
  CanInterface: z
    .object({
      type: z.literal('CanInterface'),
      transport: z.enum(['socketcan', 'slcan', 'socketcand']),
      /** socketcan / socketcand: the interface name on the host (can0). */
      iface: z.string().optional(),
      /** slcan: the serial device of the adapter. */
      path: z.string().optional(),
      /** socketcand: where the daemon listens. */
      host: host.optional(),
      port: port.optional(),
      bitrate: z.number().int().positive().default(500000),
    })
    .strict()
    .superRefine((r, ctx) => {
      // each transport needs its own way to reach the bus
      const need: Record<typeof r.transport, ('iface' | 'path' | 'host' | 'port')[]> = {
        socketcan: ['iface'],
        slcan: ['path'],
        socketcand: ['host', 'port', 'iface'],
      };
      for (const key of need[r.transport]) {
        if (r[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `transport ${r.transport} needs "${key}"` });
      }
    }),
  ModbusTcp: z
    .object({ type: z.literal('ModbusTcp'), host, port: port.default(502), unitId: z.number().int().min(0).max(255).default(1) })
    .strict(),
  ModbusRtu: z
    .object({
      type: z.literal('ModbusRtu'),
      path: z.string().min(1),
      baud: z.number().int().positive().default(9600),
      parity: z.enum(['none', 'even', 'odd']).default('none'),
      stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
      unitId: z.number().int().min(0).max(255).default(1),
    })
    .strict(),
  TcpEndpoint: z.object({ type: z.literal('TcpEndpoint'), host, port }).strict(),
  MqttBroker: z.object({ type: z.literal('MqttBroker'), url: z.string().regex(/^mqtts?:\/\//, 'an mqtt:// or mqtts:// URL') }).strict(),
  /** A port the bench listens on (the mock CSMS, a live view). */
  ListenPort: z.object({ type: z.literal('ListenPort'), host: host.default('127.0.0.1'), port: z.number().int().min(0).max(65535) }).strict(),
} as const;

export type ResourceType = keyof typeof RESOURCE_TYPES;
export const RESOURCE_TYPE_NAMES = Object.keys(RESOURCE_TYPES) as ResourceType[];
export type Resource<T extends ResourceType = ResourceType> = z.output<(typeof RESOURCE_TYPES)[T]>;

export const ResourceSchema = z.discriminatedUnion('type', [
  RESOURCE_TYPES.SerialPort,
  RESOURCE_TYPES.CanInterface,
  RESOURCE_TYPES.ModbusTcp,
  RESOURCE_TYPES.ModbusRtu,
  RESOURCE_TYPES.TcpEndpoint,
  RESOURCE_TYPES.MqttBroker,
  RESOURCE_TYPES.ListenPort,
]);
