// `kfbundle build`: wires the build use case to the Docker engine, the file system and the progress display.

import { setTimeout as sleep } from 'node:timers/promises';
import { buildBundle } from '../../app/build-bundle.js';
import { credentialsFor } from '../../core/docker-auth.js';
import { parseMirror } from '../../core/mirrors.js';
import { parseRegistryTarget } from '../../core/relocate-images.js';
import { parseAwsPartition } from '../../core/aws-partition.js';
import { parseByteSize } from '../../core/byte-size.js';
import { directoryBundleOutput } from '../../io/bundle-directory.js';
import { readDockerConfig } from '../../io/docker-config.js';
import { resolveManifestInput } from '../manifest-input.js';
import { signBytes } from '../../io/bundle-signature.js';
import { readKey } from './keygen.js';
import { tiersOption } from './images.js';
import { DockerImageStore } from '../../io/docker-image-store.js';
import { createBuildReporter } from '../../ui/build-reporter.js';
import { formatBytes } from '../../ui/format.js';
import { readInstallerTemplate } from '../../version.js';
import { writeJson, type CliContext } from '../context.js';

export interface BuildCommandOptions {
  manifests: string | undefined;
  release: string | undefined;
  releaseUrl: string | undefined;
  spec: string | undefined;
  tiers: string | undefined;
  out: string;
  mirror: string[];
  registry: string | undefined;
  awsPartition: string | undefined;
  splitSize: string | undefined;
  force: boolean;
  concurrency: number;
  attempts: number;
  dockerHost: string | undefined;
  sign: string | undefined;
  json: boolean;
  progress: boolean;
}

export async function runBuild(options: BuildCommandOptions, context: CliContext): Promise<number> {
  const mirrors = options.mirror.flatMap(parseMirror);
  const tiers = tiersOption(options.tiers);
  const registry = options.registry === undefined ? undefined : parseRegistryTarget(options.registry);
  const awsPartition = options.awsPartition === undefined ? undefined : parseAwsPartition(options.awsPartition);
  const splitSize = options.splitSize === undefined ? undefined : parseByteSize(options.splitSize);
  const { source, input, spec } = await resolveManifestInput(options, context.signal, true, context.env);
  // Read and check the key before minutes of pulls, not after.
  const signingKey = options.sign === undefined ? undefined : await readKey(options.sign);
  if (signingKey !== undefined) signBytes(Buffer.from('probe'), signingKey, options.sign!);
  const dockerConfig = await readDockerConfig(context.env);
  const reporter = createBuildReporter({
    stream: context.stderr,
    // NOTE: a pseudo-terminal can report 0 columns (script, some CI runners); ora then loops forever clearing its line.
    interactive: options.progress && context.stderr.isTTY === true && (context.stderr.columns ?? 0) > 0,
    now: () => new Date(),
  });
  try {
    const result = await buildBundle(
      {
        manifests: input,
        outDir: options.out,
        mirrors,
        spec,
        tiers,
        registry,
        awsPartition,
        splitSize,
        force: options.force,
        concurrency: options.concurrency,
        attempts: options.attempts,
        signal: context.signal,
      },
      {
        source,
        store: new DockerImageStore({ host: options.dockerHost ?? context.env['DOCKER_HOST'] }),
        output: directoryBundleOutput,
        installerTemplate: await readInstallerTemplate(),
        toolVersion: context.toolVersion,
        credentials: (registry) => credentialsFor(dockerConfig, registry),
        sleep: (ms, signal) => sleep(ms, undefined, { signal }),
        random: Math.random,
        now: () => performance.now(),
        report: (event) => reporter.report(event),
        sign: signingKey === undefined ? undefined : (data) => signBytes(data, signingKey, options.sign!),
      },
    );
    reporter.close();
    const archive = result.metadata.imagesArchive;
    if (options.json) {
      writeJson(context, { bundle: options.out, metadata: result.metadata, timingsMs: result.timings });
    } else {
      context.stdout.write(
        `bundle written to ${options.out}: ${result.metadata.images.length} images` +
          `${archive === undefined ? '' : ` (${formatBytes(archive.size)}${archive.parts.length > 1 ? ` in ${archive.parts.length} parts` : ''})`}, ` +
          `${result.metadata.input.objects} objects, ` +
          `${result.metadata.manifests.changes} manifest edits\n` +
          (registry === undefined ? '' : `manifests/ name every image under ${registry}; install.sh pushes them there\n`) +
          `next: kfbundle verify ${options.out}   then on the target: ${options.out}/install.sh\n`,
      );
    }
    return 0;
  } finally {
    reporter.close();
  }
}
