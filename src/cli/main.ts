// The command line: parses arguments, runs one command, and turns every outcome into an exit status.
// The only module that touches process-wide state (argv, signals, exit status) is bin/kfbundle.js calling main().

import { Command, CommanderError } from 'commander';
import { EXIT_CODES, isKfbundleError } from '../core/errors.js';
import { readToolVersion } from '../version.js';
// Only the commands' option types here: each command's module, and all it needs (dockerode, tar, js-yaml …), is
// loaded when that command runs, so that `--version` and `--help` start at once.
import type { BuildCommandOptions } from './commands/build.js';
import type { ImagesCommandOptions } from './commands/images.js';
import type { VerifyCommandOptions } from './commands/verify.js';
import type { KeygenCommandOptions } from './commands/keygen.js';
import type { SignCommandOptions } from './commands/sign.js';
import type { InspectCommandOptions } from './commands/inspect.js';
import type { DiffCommandOptions } from './commands/diff.js';
import { parsePositiveInt, type CliContext } from './context.js';
import { DEFAULT_MAX_ARCHIVES, MAX_ARCHIVES } from '../core/archive-groups.js';
import { DEFAULT_SEED_REGISTRY_IMAGE } from '../core/seed-registry.js';

export interface MainOptions {
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** What a run learns while parsing and running: its exit status and whether the user asked for JSON. */
interface RunState {
  exitCode: number;
  json: boolean;
}

function buildProgram(context: CliContext, state: RunState): Command {
  const setExit = (code: number) => {
    state.exitCode = code;
  };
  const program = new Command('kfbundle')
    .description('Build offline Kubeflow bundles on a machine with internet; verify and install them on an isolated cluster.')
    .version(context.toolVersion, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => context.stdout.write(text),
      writeErr: (text) => context.stderr.write(text),
    })
    .addHelpText(
      'after',
      `
Typical use:
  abroad:   kfbundle build --manifests kubeflow/rendered.yaml --out ./kubeflow-bundle
            kfbundle verify ./kubeflow-bundle
  target:   ./kubeflow-bundle/install.sh --verify-only
            ./kubeflow-bundle/install.sh

Exit codes are listed in docs/exit-codes.md.`,
    );

  program
    .command('build')
    .description('Render manifests, pull every image they need, and write a verified offline bundle.')
    .option('--manifests <path>', 'rendered multi-document YAML file, or a directory with a kustomization.yaml')
    .option('--release <ref>', 'download this kubeflow/manifests tag or branch (v1.8.0 and later) and render it, with its curated bundle spec when one is shipped, else tiers install,runtime and the component table (default: the newest curated)')
    .option('--release-url <template>', 'archive URL with {repository} and {ref}, for mirrors of the release archives (default: $KFBUNDLE_RELEASE_URL, else GitHub)')
    .option('--out <dir>', 'bundle directory to create', 'kubeflow-bundle')
    .option('--spec <file>', 'bundle spec: extra, excluded and overridden images, default tiers (bundle-spec/README.md)')
    .option('--image <ref>', 'also bundle this image, whatever the tiers (repeatable); with neither --manifests nor --release, an add-on bundle of these images only', collect, [])
    .option('--image-list <file>', 'also bundle the images this file names, one reference a line (# comments); as --image')
    .option('--tiers <list>', 'image tiers to bundle: install,runtime,catalog,conditional,example or all (default: the spec\'s, else install,runtime)')
    .option('--platform <os/arch>', 'the platform of the nodes, pulled from multi-platform images: linux/amd64, linux/arm64 (Kunpeng, Phytium, Ampere), linux/arm/v7 ... (default: this machine\'s), or a comma-separated list for a mixed cluster: one directory of images per platform, each node loads its own, a registry gets an index per image; install.sh refuses a node whose architecture the bundle lacks, before loading')
    .option('--mirror <SRC=DST>', 'pull images of registry SRC from DST (repeatable), e.g. gcr.io=127.0.0.1:5000/gcr.io', collect, [])
    .option('--registry <HOST[:PORT][/PREFIX]>', 'write manifests/ with every image under this private registry; install.sh pushes the images there (install.sh --registry can also choose it later)')
    .option('--aws-partition <partition>', 'rewrite every arn:aws: ARN in the manifests to this partition, e.g. aws-cn for AWS China')
    .option('--split-size <size>', 'write the image archive as parts of at most this size, e.g. 4G for FAT32 disks (4,000,000,000 bytes), 4.7G for DVDs, 512Mi')
    .option('--archives <n>', `with the registry source: write the images as up to n archives a stage (at most ${MAX_ARCHIVES}), which install.sh loads at once, one per core; shared base layers are stored once, in stage 1 (default: up to ${DEFAULT_MAX_ARCHIVES}, one per 128 MiB; 1: one images.tar)`, parsePositiveInt('--archives'))
    .option('--seed-registry-image <ref>', `the registry image the bundle carries in images/registry.tar, which install.sh --seed-registry runs inside the cluster (default: ${DEFAULT_SEED_REGISTRY_IMAGE})`)
    .option('--no-seed-registry', 'leave the seed registry image out (install.sh --seed-registry then refuses the bundle)')
    .option('--force', 'replace the output directory if it exists', false)
    .option('--concurrency <n>', 'images pulled at the same time', parsePositiveInt('--concurrency'), 2)
    .option('--attempts <n>', 'tries per image before a pull counts as failed', parsePositiveInt('--attempts'), 4)
    .option('--source <source>', 'where images come from: registry (straight from the registries, layers kept compressed, no Docker engine needed) or engine (pull into a Docker engine and docker save: for images only a local engine has)', 'registry')
    .option('--cache <dir>', 'blob cache of the registry source: what it holds is not downloaded again (default: $XDG_CACHE_HOME/kfbundle, else ~/.cache/kfbundle)')
    .option('--insecure-registry <host[:port]>', 'a registry or mirror served over plain HTTP or with a self-signed certificate (repeatable; loopback addresses are plain HTTP already)', collect, [])
    .option('--docker-host <url>', 'with --source engine: the Docker engine to use (default: $DOCKER_HOST, else the local socket)')
    .option('--since <bundle>', 'a delta bundle: leave out every layer this earlier bundle (its directory, or its bundle.json) brought to the target, compared by digest, not by name; install.sh then checks the base\'s images are there before loading (from registries only)')
    .option('--sign <private-key>', 'sign the bundle (Ed25519 over SHA256SUMS) with a key from kfbundle keygen')
    .option('--json', 'print the result as JSON on stdout (progress stays on stderr)', false)
    .option('--no-progress', 'plain log lines instead of progress bars')
    .addHelpText(
      'after',
      `
Examples:
  kfbundle build                                     # the newest supported release, from its spec in bundle-spec/
  kfbundle build --release v1.10.2 --tiers install,runtime,catalog
  kfbundle build --manifests ./rendered.yaml --out ./kubeflow-bundle
  kfbundle build --manifests ./manifests/example --out ./kubeflow-bundle --force
  kfbundle build --manifests ./rendered.yaml --mirror gcr.io=gcr.m.daocloud.io --mirror docker.io=docker.m.daocloud.io
  kfbundle build --manifests ./rendered.yaml --registry harbor.example.cn/kubeflow --aws-partition aws-cn
  kfbundle build --release v1.10.2 --split-size 4G --out /media/usb/kubeflow-bundle
  kfbundle build --release v1.11.0 --since ./kubeflow-bundle-v1.10.2 --out ./kubeflow-delta-v1.11.0
  kfbundle build --image-list ./pipeline-images.txt --out ./kubeflow-addon   # images only: an add-on bundle
  kfbundle build --release v1.10.2 --platform linux/arm64 --out ./kubeflow-bundle-arm64
  kfbundle build --release v1.10.2 --platform linux/amd64,linux/arm64 --out ./kubeflow-bundle-mixed
  kfbundle build --manifests ./rendered.yaml --mirror gcr.io=mirror.local:5000/gcr.io --insecure-registry mirror.local:5000
  kfbundle build --manifests ./rendered.yaml --source engine --docker-host unix:///run/user/1000/docker.sock`,
    )
    .action(async (options: BuildCommandOptions) => {
      const { runBuild } = await import('./commands/build.js');
      setExit(await runBuild(options, context));
    });

  program
    .command('verify')
    .description('Recompute every checksum of a bundle; fail naming each changed, missing or extra file.')
    .argument('<bundle>', 'bundle directory')
    .option('--key <public-key>', 'also require a valid signature by this public key (checked first)')
    .option('--json', 'print the result as JSON on stdout', false)
    .addHelpText('after', '\nExamples:\n  kfbundle verify ./kubeflow-bundle\n  kfbundle verify ./kubeflow-bundle --key team.pub\n  kfbundle verify ./kubeflow-bundle --json')
    .action(async (bundle: string, options: VerifyCommandOptions) => {
      const { runVerify } = await import('./commands/verify.js');
      setExit(await runVerify(bundle, options, context));
    });

  program
    .command('inspect')
    .description('Show what a bundle holds: release, images by tier with sizes, install phases, signature, size.')
    .argument('<bundle>', 'bundle directory')
    .option('--images', 'also list every bundled image', false)
    .option('--json', 'print the summary as JSON on stdout', false)
    .addHelpText('after', '\nExamples:\n  kfbundle inspect ./kubeflow-bundle\n  kfbundle inspect ./kubeflow-bundle --images\n  kfbundle inspect ./kubeflow-bundle --json')
    .action(async (bundle: string, options: InspectCommandOptions) => {
      const { runInspect } = await import('./commands/inspect.js');
      setExit(await runInspect(bundle, options, context));
    });

  program
    .command('diff')
    .description('Compare two bundles or releases: images added, removed and changed, CRDs by version, install phases, and what a delta bundle would leave out.')
    .argument('<from>', 'a bundle directory, its bundle.json, or a release: a rendered YAML file, a kustomization directory, or a supported release tag')
    .argument('<to>', 'the same, for the newer side')
    .option('--release-url <template>', 'archive URL with {repository} and {ref}, for a release tag (default: $KFBUNDLE_RELEASE_URL, else GitHub)')
    .option('--json', 'print the differences as JSON on stdout', false)
    .addHelpText(
      'after',
      `
A bundle directory knows its images' digests and sizes, its CRDs and phases, and (built from registries) its blobs:
with one on each side, the last line says how much a delta of the second on the first (build --since) leaves out.
A bundle.json alone has no manifests, so its CRDs are not compared. A release is rendered and resolved as build does;
it has no digests, so an image counts as changed when its tag moved.

Examples:
  kfbundle diff ./kubeflow-bundle-v1.10.2 ./kubeflow-bundle-v1.11.0
  kfbundle diff v1.10.2 v1.11.0                      # two supported releases, downloaded and rendered
  kfbundle diff ./old/rendered.yaml ./new/rendered.yaml --json`,
    )
    .action(async (from: string, to: string, options: DiffCommandOptions) => {
      const { runDiff } = await import('./commands/diff.js');
      setExit(await runDiff(from, to, options, context));
    });

  program
    .command('keygen')
    .description('Make an Ed25519 key pair for signing bundles.')
    .option('--private <file>', 'where to write the private key (mode 600)', 'kfbundle.key')
    .option('--public <file>', 'where to write the public key', 'kfbundle.pub')
    .option('--json', 'print the paths as JSON on stdout', false)
    .addHelpText('after', '\nExamples:\n  kfbundle keygen\n  kfbundle keygen --private team.key --public team.pub')
    .action(async (options: KeygenCommandOptions) => {
      const { runKeygen } = await import('./commands/keygen.js');
      setExit(await runKeygen(options, context));
    });

  program
    .command('sign')
    .description('Sign an existing bundle (after checking it is intact).')
    .argument('<bundle>', 'bundle directory')
    .requiredOption('--key <private-key>', 'private key from kfbundle keygen')
    .option('--json', 'print the result as JSON on stdout', false)
    .addHelpText('after', '\nExamples:\n  kfbundle sign ./kubeflow-bundle --key team.key')
    .action(async (bundle: string, options: SignCommandOptions) => {
      const { runSign } = await import('./commands/sign.js');
      setExit(await runSign(bundle, options, context));
    });

  program
    .command('images')
    .description('List every image a release needs, its tier, and where each is found.')
    .option('--manifests <path>', 'rendered multi-document YAML file, or a directory with a kustomization.yaml')
    .option('--release <ref>', 'download this kubeflow/manifests tag or branch (v1.8.0 and later) and render it, with its curated bundle spec when one is shipped, else tiers install,runtime and the component table')
    .option('--release-url <template>', 'archive URL with {repository} and {ref} (default: $KFBUNDLE_RELEASE_URL, else GitHub)')
    .option('--spec <file>', 'bundle spec to apply (extra, excluded and overridden images; default tiers)')
    .option('--tiers <list>', 'tiers counted as bundled: install,runtime,catalog,conditional,example or all')
    .option('--why <ref>', 'show every place the matching images are found, and how')
    .option('--platform <os/arch>', 'ask the registries whether each bundled image offers this platform, or each of a comma-separated list, e.g. linux/arm64 or linux/amd64,linux/arm64 (manifests only, nothing downloaded; exit 5 when one does not)')
    .option('--mirror <SRC=DST>', 'with --platform: ask DST for images of registry SRC, as build does (repeatable)', collect, [])
    .option('--insecure-registry <host[:port]>', 'with --platform: a registry or mirror served over plain HTTP or with a self-signed certificate (repeatable)', collect, [])
    .option('--cache <dir>', 'with --platform: the blob cache, as for build (the configs of single-platform images are read into it)')
    .option('--json', 'print {tiers, images, excluded, warnings, components} as JSON on stdout', false)
    .addHelpText(
      'after',
      `
Tiers: install (pod templates), runtime (pulled by controllers as they run), catalog (offered to users: notebook
images, serving and training runtimes), conditional (only when a feature is used), example.

Images come from every field that names one, however spelled (short names, untagged, digests), from template text
in ConfigMaps, and from the component table: defaults a controller compiles in, by its version, unless the release
sets the override (docs/image-discovery.md). --why shows where each was found (via compiled-in, env, arg, template...).
--release takes a tag or a branch; without a curated spec, the components recognised and not are listed.

Examples:
  kfbundle images --manifests ./rendered.yaml
  kfbundle images --manifests ./rendered.yaml --why katib
  kfbundle images --release v1.10.2 --why kfp-driver     # an override the release sets, and the default it replaces
  kfbundle images --manifests ./rendered.yaml --spec bundle-spec/v1.10.2.yaml --tiers all --json
  kfbundle images --release v1.10.2
  kfbundle images --release v1.10.2 --platform linux/arm64     # which bundled images have no arm64 variant`,
    )
    .action(async (options: ImagesCommandOptions) => {
      const { runImages } = await import('./commands/images.js');
      setExit(await runImages(options, context));
    });

  program.hook('preAction', (_program, action) => {
    state.json = action.opts()['json'] === true;
  });
  return program;
}

/** Runs the CLI and returns the exit status; never throws. */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error('interrupted'));
  if (options.signal === undefined) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  let toolVersion = 'unknown';
  const state: RunState = { exitCode: 0, json: false };
  try {
    toolVersion = await readToolVersion();
    const context: CliContext = {
      stdout,
      stderr,
      env: options.env ?? process.env,
      signal: options.signal ?? controller.signal,
      toolVersion,
    };
    await buildProgram(context, state).parseAsync([...argv], { from: 'user' });
    return state.exitCode;
  } catch (error) {
    const interrupted = (options.signal ?? controller.signal).aborted;
    return reportFailure(error, { stdout, stderr, toolVersion, json: state.json, interrupted });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function reportFailure(
  error: unknown,
  out: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream; toolVersion: string; json: boolean; interrupted: boolean },
): number {
  if (error instanceof CommanderError) {
    // Help and version are "errors" to commander; their text is already printed.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
    return EXIT_CODES.USAGE;
  }
  if (isKfbundleError(error)) {
    if (out.json) {
      out.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message, hint: error.hint } }, null, 2)}\n`);
    }
    out.stderr.write(`kfbundle: error: ${error.message}\n`);
    if (error.hint !== undefined) out.stderr.write(`hint: ${error.hint}\n`);
    return EXIT_CODES[error.code];
  }
  // Whatever the aborted operation threw (AbortError, a closed socket), the cause is the user's interrupt.
  if (out.interrupted) {
    out.stderr.write('kfbundle: interrupted; nothing was left half-written\n');
    return 130;
  }
  out.stderr.write(
    `kfbundle: this is a bug, please report it with the lines below\n` +
      `kfbundle ${out.toolVersion}, node ${process.version}, ${process.platform}-${process.arch}\n` +
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return 1;
}
