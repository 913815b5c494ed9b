// A containerd of the test's own with its CRI plugin on, as a kubelet node runs it: its own root, state and socket in
// a temporary directory, and no registry configuration at all (no [plugins."io.containerd.grpc.v1.cri".registry]
// section, so config_path, mirrors and configs keep containerd's defaults: empty). The shared test containerd keeps
// CRI off; this one is started by pid and stopped by pid, with a time limit on its whole life.
//
// What the CRI plugin needs to start here, found by trying: nothing beyond the paths. Without CNI it logs "failed to
// load cni during init" and serves the image service anyway (only pod networking needs CNI); the default overlayfs
// snapshotter unpacks pulled layers; its streaming server listens on 127.0.0.1 at a random port (the default).

import { spawn, type ChildProcess } from 'node:child_process';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { criClient, type CriClient, type CriVersion } from './cri-client.js';
import { makeTempDir } from './tmp.js';

/** How long the daemon may live at most: a test that forgets to stop it, or hangs, does not leave it running. */
const LIFETIME_MS = 180_000;
const READY_MS = 30_000;
const STOP_MS = 15_000;
/** containerd 1.6 logs the CRI plugin's whole configuration once, in Go's %+v form, when the plugin starts. */
const CRI_CONFIG_LINE = /Start cri plugin with config (\{.*\})"?\s*$/m;
const PROXY_VARIABLES = /^(https?|all|no)_proxy$/i;

export interface CriContainerd {
  /** The gRPC unix socket, where the CRI services are served too. */
  socket: string;
  pid: number;
  /** What the CRI Version call reports (runtime name and version). */
  version: CriVersion;
  /** The CRI plugin's configuration as containerd logged it when the plugin started. */
  criConfig: string;
  client: CriClient;
  /** Everything containerd logged so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface CriContainerdOptions {
  /**
   * Extra environment for the daemon. Proxy variables of the test's own environment are never passed on, so a pull
   * goes where its reference says unless a test sets a proxy here on purpose.
   */
  env?: Record<string, string>;
}

function configToml(dir: string, socket: string): string {
  return [
    'version = 2',
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    '[grpc]',
    `  address = "${socket}"`,
    '[ttrpc]',
    `  address = "${socket}.ttrpc"`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    '',
  ].join('\n');
}

function daemonEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!PROXY_VARIABLES.test(key)) env[key] = value;
  return { ...env, ...extra };
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (exited(child)) return;
  try {
    process.kill(-child.pid!, signal);
  } catch {
    child.kill(signal);
  }
}

async function waitForExit(child: ChildProcess, limitMs: number): Promise<boolean> {
  if (exited(child)) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), limitMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function waitUntilServing(child: ChildProcess, client: CriClient, logPath: string): Promise<CriVersion> {
  const deadline = Date.now() + READY_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (exited(child)) break;
    try {
      return await client.version();
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  const tail = (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-20).join('\n');
  const why = exited(child) ? `exited (${child.exitCode ?? child.signalCode})` : `did not serve CRI within ${READY_MS / 1000} s (${String(lastError)})`;
  throw new Error(`containerd with CRI ${why}\n--- containerd log (end)\n${tail}`);
}

export async function startCriContainerd(options: CriContainerdOptions = {}): Promise<CriContainerd> {
  const dir = await makeTempDir('kfb-cri-');
  const socket = join(dir.path, 'containerd.sock');
  const configPath = join(dir.path, 'config.toml');
  const logPath = join(dir.path, 'containerd.log');
  await writeFile(configPath, configToml(dir.path, socket));
  const logFile = await open(logPath, 'w');
  // A process group of its own, so that the time limit ends the shims it may start too.
  const child = spawn('containerd', ['--config', configPath], {
    env: daemonEnv(options.env ?? {}),
    stdio: ['ignore', logFile.fd, logFile.fd],
    detached: true,
  });
  await logFile.close();
  const lifetime = setTimeout(() => killGroup(child, 'SIGKILL'), LIFETIME_MS);
  const killOnExit = () => killGroup(child, 'SIGKILL');
  process.once('exit', killOnExit);
  const client = criClient(socket);

  const stop = async () => {
    client.close();
    clearTimeout(lifetime);
    process.removeListener('exit', killOnExit);
    killGroup(child, 'SIGTERM');
    if (!(await waitForExit(child, STOP_MS))) {
      killGroup(child, 'SIGKILL');
      await waitForExit(child, STOP_MS);
    }
    await dir.remove();
  };

  try {
    const version = await waitUntilServing(child, client, logPath);
    const logged = CRI_CONFIG_LINE.exec(await readFile(logPath, 'utf8'));
    if (logged === null) throw new Error(`containerd (${version.runtimeVersion}) did not log its CRI plugin configuration`);
    return { socket, pid: child.pid!, version, criConfig: logged[1]!, client, log: () => readFile(logPath, 'utf8'), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
