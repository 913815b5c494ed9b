// Small stand-in images for the real Kubeflow ones: built from scratch with /bin/busybox and a few random layers,
// then pushed to the local registry under their real upstream names behind a mirror prefix.

import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { create as createTar } from 'tar';
import { PullStatusSink } from '../../src/io/pull-progress-parser.js';
import { formatImageRef, imageName, parseImageRef } from '../../src/core/image-ref.js';
import { makeTempDir } from './tmp.js';

export function dockerFor(host: string): Docker {
  return new Docker({ socketPath: host.replace(/^unix:\/\//, '') });
}

/** Consumes an engine JSON stream; fails on an in-band error; returns every line. */
async function drain(stream: Readable): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  const sink = new PullStatusSink((line) => lines.push(line as Record<string, unknown>));
  await pipeline(stream, sink);
  if (sink.error !== undefined) throw new Error(sink.error);
  return lines;
}

export interface SyntheticImageOptions {
  /** Random-data layers on top of busybox. */
  layers?: number;
  layerBytes?: number;
}

/** Builds a distinct image named `tag` (a local name) and returns its image ID. */
export async function buildSyntheticImage(docker: Docker, tag: string, options: SyntheticImageOptions = {}): Promise<string> {
  const layers = options.layers ?? 1;
  const layerBytes = options.layerBytes ?? 64 * 1024;
  const context = await makeTempDir('kfb-ctx-');
  try {
    await mkdir(join(context.path, 'bin'));
    await copyFile('/bin/busybox', join(context.path, 'bin/busybox'));
    const lines = ['FROM scratch', 'COPY bin/busybox /bin/busybox'];
    for (let i = 0; i < layers; i++) {
      await writeFile(join(context.path, `layer-${i}`), randomBytes(layerBytes));
      lines.push(`COPY layer-${i} /data/layer-${i}`);
    }
    lines.push(`LABEL org.kfbundle.test.name="${tag}"`, 'CMD ["/bin/busybox", "true"]');
    await writeFile(join(context.path, 'Dockerfile'), `${lines.join('\n')}\n`);
    const files = ['Dockerfile', 'bin', ...Array.from({ length: layers }, (_, i) => `layer-${i}`)];
    const tarStream = createTar({ cwd: context.path, portable: true }, files) as unknown as Readable;
    const stream = (await docker.buildImage(tarStream, { t: tag, rm: true })) as unknown as Readable;
    await drain(stream);
    const info = await docker.getImage(tag).inspect();
    return info.Id;
  } finally {
    await context.remove();
  }
}

/** Pushes a local image and returns the registry's manifest digest. */
export async function pushImage(docker: Docker, ref: string): Promise<string> {
  const stream = (await docker.getImage(ref).push({ authconfig: { serveraddress: parseImageRef(ref).registry } } as never)) as unknown as Readable;
  const lines = await drain(stream);
  for (const line of lines) {
    const aux = line['aux'] as { Digest?: string } | undefined;
    if (aux?.Digest !== undefined) return aux.Digest;
  }
  throw new Error(`push of ${ref} reported no digest`);
}

export interface StandIn {
  /** The reference as the manifests write it. */
  ref: string;
  /** Where it was pushed: `REGISTRY/<normalised name>:tag`. */
  pushedAs: string;
  digest: string;
  imageId: string;
}

/**
 * Builds a stand-in for each upstream reference and pushes it to `registry` under `REGISTRY/<normalised name>`
 * (the `--mirror SRC=REGISTRY/SRC` layout). A digest-pinned reference cannot be reproduced, so it is pushed under a
 * tag and the returned `ref` carries the stand-in's real digest instead. Local copies are removed afterwards, so a
 * build must really pull them.
 */
export async function pushStandIns(docker: Docker, registry: string, refs: readonly string[], options: SyntheticImageOptions = {}): Promise<StandIn[]> {
  const standIns: StandIn[] = [];
  for (const ref of refs) {
    const parsed = parseImageRef(ref);
    const pushedAs = `${registry}/${imageName(parsed)}:${parsed.tag ?? 'pinned'}`;
    const imageId = await buildSyntheticImage(docker, pushedAs, options);
    const digest = await pushImage(docker, pushedAs);
    const finalRef = parsed.digest === undefined ? ref : formatImageRef({ ...parsed, tag: undefined, digest });
    standIns.push({ ref: finalRef, pushedAs, digest, imageId });
  }
  for (const standIn of standIns) await docker.getImage(standIn.pushedAs).remove({ force: true });
  return standIns;
}
