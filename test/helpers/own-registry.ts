// A docker-registry of a test's own on 127.0.0.1, for what the shared ones (plain HTTP, no login) cannot show: logins
// checked against an htpasswd file (bcrypt, as distribution reads it) and TLS with a certificate nobody's trust store
// knows. Its config, storage and log live in a temporary directory; it is stopped by its pid, and killed anyway after
// a time limit so a test that forgets it cannot leave it running.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { freePort } from './free-port.js';
import { join } from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { makeTempDir } from './tmp.js';

const run = promisify(execFile);
const START_MS = 30_000;
const STOP_MS = 10_000;

export interface OwnRegistryOptions {
  /** username -> password: the registry then wants HTTP basic auth for every request. */
  users?: Record<string, string>;
  /** Serve HTTPS with a self-signed certificate for 127.0.0.1 (`certificate()` gives its PEM). */
  tls?: boolean;
  /** Kill it after this long whatever happens (default 15 min). */
  limitMs?: number;
}

/** A self-signed certificate for 127.0.0.1 (also its own CA): `cert.pem` and `key.pem` in `dir`. */
export async function selfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { timeout: 60_000 });
  return { cert, key };
}

export class OwnRegistry {
  private readonly options: OwnRegistryOptions;
  private child: ChildProcess | undefined;
  private limit: NodeJS.Timeout | undefined;
  private dir: Awaited<ReturnType<typeof makeTempDir>> | undefined;
  private certificatePem = '';
  /** `127.0.0.1:PORT`, set by start(). */
  address = '';

  constructor(options: OwnRegistryOptions = {}) {
    this.options = options;
  }

  /** The PEM of the certificate it serves (with `tls`). */
  certificate(): string {
    return this.certificatePem;
  }

  async start(): Promise<string> {
    this.dir = await makeTempDir('kfb-own-registry-');
    const dir = this.dir.path;
    const port = await freePort();
    const lines = ['version: 0.1', 'log:', '  level: warn', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'storage')}`, 'http:', `  addr: 127.0.0.1:${port}`];
    if (this.options.tls === true) {
      const { cert, key } = await selfSignedCertificate(dir);
      this.certificatePem = await readFile(cert, 'utf8');
      lines.push('  tls:', `    certificate: ${cert}`, `    key: ${key}`);
    }
    if (this.options.users !== undefined) {
      const entries = Object.entries(this.options.users).map(([user, password]) => `${user}:${bcrypt.hashSync(password, 5)}`);
      await writeFile(join(dir, 'htpasswd'), `${entries.join('\n')}\n`);
      lines.push('auth:', '  htpasswd:', '    realm: kfb-own-registry', `    path: ${join(dir, 'htpasswd')}`);
    }
    await writeFile(join(dir, 'config.yml'), `${lines.join('\n')}\n`);
    const log = openSync(join(dir, 'registry.log'), 'a');
    try {
      this.child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    this.limit = setTimeout(() => this.child?.kill('SIGKILL'), this.options.limitMs ?? 15 * 60_000);
    this.limit.unref();
    this.address = `127.0.0.1:${port}`;
    await this.waitUntilServing();
    return this.address;
  }

  /** HEAD of `path` on it (over TLS with its certificate when it has one), with basic credentials if given. */
  async head(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
    const [host, port] = this.address.split(':') as [string, string];
    if (this.options.tls !== true) {
      const response = await fetch(`http://${this.address}${path}`, { method: 'HEAD', headers, signal: AbortSignal.timeout(START_MS) });
      return { status: response.status, headers: Object.fromEntries(response.headers.entries()) };
    }
    return new Promise((resolve, reject) => {
      const outgoing = request({ host, port: Number(port), path, method: 'HEAD', headers, ca: this.certificatePem, timeout: START_MS }, (incoming) => {
        incoming.resume();
        resolve({ status: incoming.statusCode ?? 0, headers: incoming.headers });
      });
      outgoing.on('timeout', () => outgoing.destroy(new Error(`HEAD ${path} timed out`)));
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  private async waitUntilServing(): Promise<void> {
    const deadline = Date.now() + START_MS;
    for (;;) {
      if (this.child?.exitCode !== null) throw new Error(`docker-registry exited: ${await this.log()}`);
      try {
        const { status } = await this.head('/v2/');
        if (status === 200 || status === 401) return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`docker-registry did not serve within ${START_MS / 1000} s: ${await this.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async log(): Promise<string> {
    return this.dir === undefined ? '' : readFile(join(this.dir.path, 'registry.log'), 'utf8').catch(() => '');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), STOP_MS);
      await exited;
      clearTimeout(forced);
    }
    if (this.limit !== undefined) clearTimeout(this.limit);
    await this.dir?.remove();
  }
}
