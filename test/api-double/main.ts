// The API server double as a process of its own, for tests written in bash with the real kubectl:
//
//   npm run --silent api-double -- --kubeconfig FILE --node NAME=DOCKER_HOST[,cpu=8,memory=32Gi] …
//
// Each node's images are those of its Docker engine. It serves on a free 127.0.0.1 port, writes a kubeconfig for
// itself to FILE (atomically) once it is ready, says where it serves on one line of stderr, and runs until SIGTERM or
// SIGINT (or until the process that started it is gone), then stops and exits 0. Bad flags exit 2.

import Docker from 'dockerode';
import { rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ApiServerDouble, type NodeSpec, type StorageClassSpec } from './api-server-double.js';

const USAGE = `Usage: npm run --silent api-double -- --kubeconfig FILE --node NAME=DOCKER_HOST[,cpu=N][,memory=Q][,ready=false] [...]

A simulated Kubernetes API server, scheduler, controllers and kubelets on 127.0.0.1, for the real kubectl.

Options:
  --kubeconfig FILE          where to write the kubeconfig for it (written once it serves; required)
  --node NAME=DOCKER_HOST    a node whose images are that Docker engine's (unix:///path or tcp://127.0.0.1:PORT);
                             after a comma: cpu=8, memory=32Gi (allocatable; default 16 and 64Gi), ready=false
                             (repeatable; at least one)
  --kubernetes-version V     the version it reports (default v1.32.0)
  --storage-class NAME       a StorageClass it starts with (repeatable; the first is the default; default: standard)
  --no-storage-class         start with no StorageClass at all
  --crash IMAGE=LINE         containers of IMAGE print LINE and exit 1 (repeatable, lines in order)
  -h, --help                 this help

Example:
  npm run --silent api-double -- --kubeconfig ./kubeconfig --node node-1=unix:///var/run/docker.sock,cpu=8 --node node-2=tcp://127.0.0.1:2375
  KUBECONFIG=./kubeconfig kubectl get nodes
`;

class UsageError extends Error {}

interface Parsed {
  kubeconfig: string;
  nodes: { spec: Omit<NodeSpec, 'hasImage'>; host: string }[];
  kubernetesVersion: string | undefined;
  storageClasses: StorageClassSpec[];
  crashes: Map<string, string[]>;
}

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

function parseNode(text: string): Parsed['nodes'][number] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--node needs NAME=DOCKER_HOST, got "${text}"`);
  const name = text.slice(0, eq);
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) throw new UsageError(`--node: "${name}" is not a valid node name (lowercase letters, digits, '-' and '.')`);
  const [host, ...settings] = text.slice(eq + 1).split(',');
  if (!/^unix:\/\/\/.+|^tcp:\/\/[^:/]+:\d+$/.test(host ?? '')) throw new UsageError(`--node ${name}: DOCKER_HOST must be unix:///path or tcp://HOST:PORT, got "${host}"`);
  const spec: Omit<NodeSpec, 'hasImage'> = { name };
  for (const setting of settings) {
    const [key, value] = setting.split('=') as [string, string | undefined];
    if (value === undefined || value === '') throw new UsageError(`--node ${name}: "${setting}" is not KEY=VALUE`);
    if (key === 'cpu' || key === 'memory') {
      if (!QUANTITY.test(value)) throw new UsageError(`--node ${name}: ${key}=${value} is not a quantity (e.g. ${key === 'cpu' ? '8 or 7500m' : '32Gi'})`);
      spec[key] = value;
    } else if (key === 'ready') {
      if (value !== 'true' && value !== 'false') throw new UsageError(`--node ${name}: ready must be true or false, got "${value}"`);
      spec.ready = value === 'true';
    } else {
      throw new UsageError(`--node ${name}: unknown setting "${key}" (cpu, memory or ready)`);
    }
  }
  return { spec, host: host! };
}

function parseArgs(argv: readonly string[], cwd: string): Parsed | 'help' {
  const parsed: Parsed = { kubeconfig: '', nodes: [], kubernetesVersion: undefined, storageClasses: [], crashes: new Map() };
  let noStorageClass = false;
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i]!;
    let value: string | undefined;
    if (flag.startsWith('--') && flag.includes('=')) [flag, value] = [flag.slice(0, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)];
    const takeValue = () => {
      if (value !== undefined) return value;
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '--kubeconfig':
        parsed.kubeconfig = resolve(cwd, takeValue());
        break;
      case '--node': {
        const node = parseNode(takeValue());
        if (parsed.nodes.some((n) => n.spec.name === node.spec.name)) throw new UsageError(`--node ${node.spec.name} is given twice`);
        parsed.nodes.push(node);
        break;
      }
      case '--kubernetes-version': {
        const version = takeValue();
        if (!/^v?\d+\.\d+(\.\d+)?$/.test(version)) throw new UsageError(`--kubernetes-version must look like v1.32.0, got "${version}"`);
        parsed.kubernetesVersion = version.startsWith('v') ? version : `v${version}`;
        break;
      }
      case '--storage-class': {
        const name = takeValue();
        if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) throw new UsageError(`--storage-class: "${name}" is not a valid name`);
        parsed.storageClasses.push({ name, default: parsed.storageClasses.length === 0 });
        break;
      }
      case '--no-storage-class':
        if (value !== undefined) throw new UsageError('--no-storage-class takes no value');
        noStorageClass = true;
        break;
      case '--crash': {
        const text = takeValue();
        const eq = text.indexOf('=');
        if (eq <= 0) throw new UsageError(`--crash needs IMAGE=LINE, got "${text}"`);
        const image = text.slice(0, eq);
        parsed.crashes.set(image, [...(parsed.crashes.get(image) ?? []), text.slice(eq + 1)]);
        break;
      }
      default:
        throw new UsageError(`unknown argument "${argv[i]}"`);
    }
  }
  if (parsed.kubeconfig === '') throw new UsageError('--kubeconfig FILE is required');
  if (parsed.nodes.length === 0) throw new UsageError('at least one --node NAME=DOCKER_HOST is required');
  if (noStorageClass && parsed.storageClasses.length > 0) throw new UsageError('--no-storage-class and --storage-class exclude each other');
  if (!noStorageClass && parsed.storageClasses.length === 0) parsed.storageClasses.push({ name: 'standard', default: true });
  return parsed;
}

function engineFor(host: string): Docker {
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return new Docker({ protocol: 'http', host: url.hostname, port: Number(url.port) });
}

/** Writes the file whole or not at all: a reader never sees half a kubeconfig. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(temporary, text, { mode: 0o600 });
  await rename(temporary, path);
}

function kubeconfigFor(url: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: api-double',
    `  cluster: {server: "${url}"}`,
    'users:',
    '- name: api-double',
    '  user: {}',
    'contexts:',
    '- name: api-double',
    '  context: {cluster: api-double, user: api-double}',
    'current-context: api-double',
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  let parsed: Parsed | 'help';
  try {
    parsed = parseArgs(process.argv.slice(2), process.env['INIT_CWD'] ?? process.cwd());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`api-double: ${error.message}\nRun with --help for usage.\n`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const nodes: NodeSpec[] = [];
  for (const { spec, host } of parsed.nodes) {
    const engine = engineFor(host);
    try {
      await engine.ping();
    } catch (error) {
      process.stderr.write(`api-double: node ${spec.name}: no Docker engine answers at ${host}: ${(error as Error).message}\n`);
      return 1;
    }
    nodes.push({ ...spec, hasImage: (ref) => engine.getImage(ref).inspect().then(() => true, () => false) });
  }
  const crashes = parsed.crashes;
  const double = new ApiServerDouble({
    nodes,
    storageClasses: parsed.storageClasses,
    crashes: (ref) => crashes.get(ref),
    ...(parsed.kubernetesVersion !== undefined ? { kubernetesVersion: parsed.kubernetesVersion } : {}),
  });
  await double.start();
  const stopped = new Promise<void>((done) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void double.stop().then(done, done);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // Run through npm, a SIGTERM reaches npm and the shell it started, not this process: the double goes when its
    // parent does, so it is never left behind serving.
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) stop();
    }, 300).unref();
  });
  try {
    await writeAtomically(parsed.kubeconfig, kubeconfigFor(double.url));
  } catch (error) {
    process.stderr.write(`api-double: cannot write the kubeconfig ${parsed.kubeconfig}: ${(error as Error).message}\n`);
    await double.stop();
    return 1;
  }
  const version = parsed.kubernetesVersion ?? 'v1.32.0';
  process.stderr.write(`api-double: Kubernetes ${version} serving at ${double.url} (nodes ${nodes.map((n) => n.name).join(', ')}); kubeconfig ${parsed.kubeconfig}\n`);
  await stopped;
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`api-double: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
