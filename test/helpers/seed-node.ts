// Plays the node that hosts the seeded registry, for the API server double: its kubelet runs the registry Deployment
// as the pod spec says (the binary taken out of the very image the installer loaded into the target engine, started
// with the container's command and args, the Secret's config.yml where the volume mounts it, the hostPath where the
// storage mounts), and restarts it whenever the pod template changes; its kube-proxy forwards the Service's NodePort on
// 127.0.0.1 to the registry, counting every request. Nothing is run that the Deployment does not name.

import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extract as extractTar } from 'tar';
import type { ApiServerDouble } from '../api-double/api-server-double.js';
import { QUICK_MS, runCommand } from './cli.js';
import { FaultProxy } from './fault-proxy.js';
import { freePort } from './free-port.js';

type Obj = Record<string, any>;

export interface SeedNodeOptions {
  double: ApiServerDouble;
  /**
   * Where the installer loads the registry image: the target engine (`unix://…`), or a containerd's socket (its
   * `k8s.io` namespace, as kubelet's CRI plugin reads it).
   */
  runtime: { docker: string } | { containerd: string };
  dir: string;
  namespace: string;
  name: string;
}

/** A registry process lives at most this long, so a test that forgets to stop it cannot leave it behind for good. */
const PROCESS_LIMIT_MS = 10 * 60_000;

export class SeedNode {
  private readonly options: SeedNodeOptions;
  private timer: NodeJS.Timeout | undefined;
  private child: ChildProcess | undefined;
  private killer: NodeJS.Timeout | undefined;
  private running: string | undefined;
  private busy = false;
  private internalPort = 0;
  /** kube-proxy: NodePort → the registry; `requests` is every request that reached it. */
  proxy: FaultProxy | undefined;
  /** Every config.yml the registry was started with, in order. */
  readonly configs: string[] = [];
  /** The pod template annotations of each start. */
  readonly starts: Record<string, string>[] = [];
  /** A failure to start, reported by the test instead of a silent wait. */
  error: Error | undefined;

  constructor(options: SeedNodeOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    this.internalPort = await freePort();
    this.timer = setInterval(() => void this.reconcile(), 100);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.busy) await new Promise((resolve) => setTimeout(resolve, 50));
    await this.stopProcess();
    await this.proxy?.stop();
  }

  private async reconcile(): Promise<void> {
    if (this.busy || this.error !== undefined) return;
    this.busy = true;
    try {
      const { double, namespace, name } = this.options;
      const deployment = double.get('Deployment', namespace, name);
      const service = double.get('Service', namespace, name);
      if (deployment === undefined || service === undefined || !double.isAvailable(deployment)) return;
      const template = deployment['spec']['template'];
      const run = JSON.stringify(template);
      if (run === this.running) return;
      await this.ensureProxy(service);
      await this.stopProcess();
      await this.startProcess(template);
      this.running = run;
    } catch (error) {
      this.error = error as Error;
    } finally {
      this.busy = false;
    }
  }

  private async ensureProxy(service: Obj): Promise<void> {
    if (this.proxy !== undefined) return;
    const nodePort = (service['spec']['ports'] as Obj[])[0]!['nodePort'] as number;
    this.proxy = new FaultProxy(`127.0.0.1:${this.internalPort}`, [], { keepHost: true });
    await this.proxy.start(nodePort);
  }

  /** One file of the image as the runtime holds it, never started: from Docker or from containerd. */
  private async extract(image: string, path: string, to: string): Promise<void> {
    const { runtime } = this.options;
    if ('containerd' in runtime) return extractFromContainerd(runtime.containerd, image, path, to, this.options.dir);
    const host = ['--host', runtime.docker];
    const created = await runCommand('docker', [...host, 'create', image], { timeoutMs: QUICK_MS });
    if (created.code !== 0) throw new Error(`docker create ${image}: ${created.stderr}`);
    const id = created.stdout.trim();
    try {
      const copied = await runCommand('docker', [...host, 'cp', `${id}:${path}`, to], { timeoutMs: QUICK_MS });
      if (copied.code !== 0) throw new Error(`docker cp ${image}:${path}: ${copied.stderr}`);
    } finally {
      await runCommand('docker', [...host, 'rm', id], { timeoutMs: QUICK_MS });
    }
  }

  private async startProcess(template: Obj): Promise<void> {
    const { double, namespace, dir } = this.options;
    const pod = template['spec'];
    const container = pod['containers'][0] as Obj;
    const volumes = new Map((pod['volumes'] as Obj[]).map((volume) => [volume['name'] as string, volume]));
    const rootfs = join(dir, 'rootfs');
    await mkdir(rootfs, { recursive: true });
    const [command, ...commandArgs] = [...(container['command'] ?? []), ...(container['args'] ?? [])] as string[];
    const binary = join(rootfs, 'bin-entry');
    await this.extract(container['image'], command!, binary);
    await chmod(binary, 0o755);

    // Each mount becomes a directory of this test; paths in the args under a mount point are moved with it.
    const mounts: [string, string][] = [];
    const env: Record<string, string> = {};
    for (const mount of container['volumeMounts'] as Obj[]) {
      const volume = volumes.get(mount['name'])!;
      const local = join(dir, 'volumes', mount['name']);
      await mkdir(local, { recursive: true });
      if (volume['secret'] !== undefined) {
        const secret = double.get('Secret', namespace, volume['secret']['secretName']);
        if (secret === undefined) throw new Error(`secret ${volume['secret']['secretName']} is missing`);
        for (const [key, value] of Object.entries(secret['data'] as Record<string, string>)) {
          const text = Buffer.from(value, 'base64').toString('utf8');
          await writeFile(join(local, key), text);
          if (key === 'config.yml') this.configs.push(text);
        }
      }
      mounts.push([mount['mountPath'], local]);
      // The registry's storage is wherever its config says inside the container: the mount's local directory.
      if (mount['mountPath'] === '/var/lib/registry') env['REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY'] = local;
    }
    const args = commandArgs.map((arg) => {
      const mount = mounts.find(([path]) => arg.startsWith(`${path}/`));
      return mount === undefined ? arg : `${mount[1]}${arg.slice(mount[0].length)}`;
    });
    // The container's port 5000, as the pod network would expose it to kube-proxy.
    env['REGISTRY_HTTP_ADDR'] = `127.0.0.1:${this.internalPort}`;
    this.starts.push({ ...(template['metadata']?.['annotations'] ?? {}) });
    const log = join(dir, `registry-${this.starts.length}.log`);
    const child = spawn(binary, args, { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', () => void writeFile(log, stderr));
    this.child = child;
    this.killer = setTimeout(() => child.kill('SIGKILL'), PROCESS_LIMIT_MS);
  }

  private async stopProcess(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    clearTimeout(this.killer);
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const forced = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(forced);
  }

  /** The log of the registry's nth start (1-based), for a failing test to show. */
  async log(start: number): Promise<string> {
    return readFile(join(this.options.dir, `registry-${start}.log`), 'utf8').catch(() => '');
  }
}

/**
 * `path` of `image` in containerd's k8s.io namespace, read from `ctr images export` (an OCI layout): the top-most
 * layer that has the file wins, as in the container's file system.
 */
async function extractFromContainerd(address: string, image: string, path: string, to: string, dir: string): Promise<void> {
  const exported = join(dir, 'export.tar');
  const run = await runCommand('ctr', ['--address', address, '-n', 'k8s.io', 'images', 'export', exported, image], { timeoutMs: QUICK_MS });
  if (run.code !== 0) throw new Error(`ctr images export ${image}: ${run.stderr}`);
  const layout = join(dir, 'export');
  await mkdir(layout, { recursive: true });
  await extractTar({ file: exported, cwd: layout });
  const blob = (digest: string) => join(layout, 'blobs', ...digest.split(':'));
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  let manifest = JSON.parse(await readFile(blob(index.manifests[0]!.digest), 'utf8')) as { manifests?: { digest: string; platform?: { architecture: string } }[]; layers?: { digest: string }[] };
  if (manifest.manifests !== undefined) {
    const entry = manifest.manifests.find((candidate) => candidate.platform?.architecture === 'amd64') ?? manifest.manifests[0]!;
    manifest = JSON.parse(await readFile(blob(entry.digest), 'utf8')) as typeof manifest;
  }
  const wanted = path.replace(/^\//, '');
  for (const layer of [...(manifest.layers ?? [])].reverse()) {
    const found = join(dir, 'layer');
    await mkdir(found, { recursive: true });
    await extractTar({ file: blob(layer.digest), cwd: found, filter: (entry) => entry.replace(/^\.\//, '') === wanted });
    const file = join(found, wanted);
    if (await stat(file).then(() => true, () => false)) {
      await copyFile(file, to);
      return;
    }
  }
  throw new Error(`${image} has no ${path}`);
}
