// Where `pnc-bench serve` listens unless told otherwise, and which hosts it may bind without a
// token; kept apart from src/server/server.ts so the command (src/cli/serve.ts) names its defaults
// without loading fastify.

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';
/** Hosts that may be bound without a token. */
export const LOOPBACK_HOSTS = ['127.0.0.1', '::1', 'localhost'] as const;
