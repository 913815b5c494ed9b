// Ports on 127.0.0.1 for the services a test starts itself.

import { createServer } from 'node:net';

/** Whether `port` (0: any) can be listened on now; resolves to the port taken, or undefined. */
function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: taken } = server.address() as { port: number };
      server.close(() => resolve(taken));
    });
  });
}

/** A free port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const port = await tryListen(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

/** A free port on 127.0.0.1 in Kubernetes' default NodePort range, for a Service to claim. */
export async function freeNodePort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const port = await tryListen(30000 + Math.floor(Math.random() * 2768));
    if (port !== undefined) return port;
  }
  throw new Error('no free port in 30000-32767 on 127.0.0.1');
}
