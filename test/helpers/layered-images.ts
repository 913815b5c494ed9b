// Images that share base layers, as real releases' do: built on the builder engine from busybox (or FROM another such
// image) with a file of random bytes of their own, and pushed to the registry under their tag.

import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { create as createTar } from 'tar';
import { PullStatusSink } from '../../src/io/pull-progress-parser.js';
import { dockerFor, pushImage } from './synthetic-images.js';
import type { TestEnv } from './test-env.js';

async function drain(stream: Readable): Promise<void> {
  const sink = new PullStatusSink(() => undefined);
  await pipeline(stream, sink);
  if (sink.error !== undefined) throw new Error(sink.error);
}

/** Builds `tag` on the builder: FROM `base` (or busybox alone) with a file of `ownBytes` of its own, and pushes it. */
export async function buildAndPush(env: TestEnv, tag: string, base: string | undefined, ownBytes: number, dir: string): Promise<void> {
  const docker = dockerFor(env.builderHost);
  const context = join(dir, tag.replace(/[^a-z0-9]/g, '-'));
  await mkdir(join(context, 'bin'), { recursive: true });
  const files = ['Dockerfile', 'own'];
  const lines = [`FROM ${base ?? 'scratch'}`];
  if (base === undefined) {
    await copyFile('/bin/busybox', join(context, 'bin/busybox'));
    lines.push('COPY bin/busybox /bin/busybox');
    files.push('bin');
  }
  await writeFile(join(context, 'own'), randomBytes(ownBytes));
  lines.push('COPY own /own', 'CMD ["/bin/busybox", "true"]');
  await writeFile(join(context, 'Dockerfile'), `${lines.join('\n')}\n`);
  await drain((await docker.buildImage(createTar({ cwd: context, portable: true }, files) as unknown as Readable, { t: tag, rm: true })) as unknown as Readable);
  await pushImage(docker, tag);
}
