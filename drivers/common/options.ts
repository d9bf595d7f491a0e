// Option blocks several drivers share, as zod schemas (so rig files get path-precise errors and the
// JSON Schema documents them): the reconnect backoff.
import { z } from 'zod';

export const ReconnectOptions = z
  .object({
    minMs: z.number().int().positive().default(100).describe('First reconnect delay after the link dropped, ms (doubles per attempt)'),
    maxMs: z.number().int().positive().default(5000).describe('Longest delay between reconnect attempts, ms'),
  })
  .strict()
  .refine((r) => r.maxMs >= r.minMs, { message: 'maxMs must be at least minMs', path: ['maxMs'] });
