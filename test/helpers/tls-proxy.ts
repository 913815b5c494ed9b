// A TLS front for the local registry on 127.0.0.1 with a self-signed certificate made by openssl for the test: a
// registry nobody's trust store knows, as an in-house mirror with its own certificate is.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './tmp.js';

const run = promisify(execFile);

export class SelfSignedProxy {
  private server: Server | undefined;
  private readonly target: { host: string; port: number };
  readonly requests: string[] = [];
  address = '';

  constructor(target: string) {
    const [host, port] = target.split(':') as [string, string];
    this.target = { host, port: Number(port) };
  }

  async start(): Promise<string> {
    const dir = await makeTempDir('kfb-tls-');
    try {
      const key = join(dir.path, 'key.pem');
      const cert = join(dir.path, 'cert.pem');
      await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { timeout: 60_000 });
      this.server = createServer({ key: await readFile(key), cert: await readFile(cert) }, (incoming, response) => {
        this.requests.push(`${incoming.method} ${incoming.url}`);
        const upstream = request({ ...this.target, method: incoming.method, path: incoming.url, headers: incoming.headers }, (reply) => {
          response.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(response);
        });
        upstream.on('error', (error) => {
          if (!response.headersSent) response.writeHead(502);
          response.end(error.message);
        });
        incoming.pipe(upstream);
      });
    } finally {
      await dir.remove();
    }
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.address;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
