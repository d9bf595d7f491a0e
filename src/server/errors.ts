// Errors of the live server that the `pnc-bench` command maps to exit codes (src/cli/main.ts), kept
// apart from src/server/server.ts so the command does not load fastify unless it serves.
//   ServerConfigError  the server cannot start as configured (exit 2)
//   ServerListenError  the port could not be bound (exit 3)

/** The server cannot start as configured (a usage error: exit 2). */
export class ServerConfigError extends Error {
  override readonly name = 'ServerConfigError';
}

/** The port could not be bound (in use, no permission, no such address): exit 3. */
export class ServerListenError extends Error {
  override readonly name = 'ServerListenError';
}
