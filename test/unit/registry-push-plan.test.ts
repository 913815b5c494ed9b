// The push plan points at the right bytes: every blob and manifest line's offset and size cut exactly the bytes of its
// digest out of the archive the writer streams (split into stages, so some blobs are in another archive than their
// image); a shared blob is uploaded once and mounted elsewhere; an index goes after the manifest it lists, and an index
// the bundle holds one platform of is not pushed at all.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { archiveGroups } from '../../src/core/archive-groups.js';
import { formatImagePush, locatePushActions } from '../../src/core/bundle-layout.js';
import type { BlobDescriptor, BlobSource, RegistryImage } from '../../src/core/registry-image.js';
import { registryPushPlan, type PushAction } from '../../src/core/registry-push-plan.js';
import { saveArchiveLayout, type ImageToSave } from '../../src/core/save-archive-layout.js';
import { registryArchive } from '../../src/io/registry-archive-writer.js';

const test = suite('registry push plan');

const sha = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';

/** Blob bytes by digest: what the blob source serves. */
const store = new Map<string, Buffer>();
function blob(seed: string, size: number, mediaType: string): BlobDescriptor {
  const bytes = Buffer.alloc(size, seed);
  const digest = sha(bytes);
  store.set(digest, bytes);
  return { digest, size, mediaType };
}
const source: BlobSource = { blob: async (_image, digest) => Readable.from([store.get(digest)!]) };

interface Shape {
  ref: string;
  layers: BlobDescriptor[];
  /** `whole`: an index listing only this manifest; `partial`: one listing another platform too. */
  index?: 'whole' | 'partial';
}

function image({ ref, layers, index }: Shape): ImageToSave {
  const config = blob(`config of ${ref}`, 300, 'application/vnd.oci.image.config.v1+json');
  const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST, config, layers }));
  const manifestDigest = sha(manifestBytes);
  const listed = [{ mediaType: MANIFEST, digest: manifestDigest, size: manifestBytes.length, platform: { os: 'linux', architecture: 'amd64' } }];
  if (index === 'partial') listed.push({ ...listed[0]!, digest: sha(Buffer.from(`arm64 of ${ref}`)), platform: { os: 'linux', architecture: 'arm64' } });
  const indexBytes = index === undefined ? undefined : Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: listed }));
  const repository = ref.slice(0, ref.lastIndexOf(':'));
  const registryImage: RegistryImage = {
    ref,
    repository,
    manifestDigest,
    manifestMediaType: MANIFEST,
    manifestBytes,
    ...(indexBytes === undefined ? {} : { indexDigest: sha(indexBytes), indexBytes, indexMediaType: INDEX }),
    platform: { os: 'linux', architecture: 'amd64' },
    config,
    layers,
  };
  return { image: registryImage, tags: [ref] };
}

const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const base = blob('base', 5000, LAYER);
const images = [
  image({ ref: 'gcr.io/ml-pipeline/api-server:2.0.5', layers: [base, blob('api', 7000, LAYER)] }),
  image({ ref: 'gcr.io/ml-pipeline/frontend:2.0.5', layers: [base, blob('frontend', 9000, LAYER)], index: 'whole' }),
  image({ ref: 'docker.io/library/mysql:8.0.29', layers: [blob('mysql', 11000, LAYER)], index: 'partial' }),
];

/** The archives as the writer streams them, and the plan's actions per archive. */
async function planned(maxArchives: number) {
  const laidOut = archiveGroups(images, { maxArchives }).map((group) => ({ ...group, layout: saveArchiveLayout(group.images, group.heldEarlier) }));
  const archives = await Promise.all(laidOut.map(({ layout }) => buffer(registryArchive(layout, source))));
  return { archives, plan: registryPushPlan(laidOut) };
}

test('each line cuts exactly the bytes of its digest out of its archive, in one archive or several', async () => {
  for (const maxArchives of [1, 3]) {
    const { archives, plan } = await planned(maxArchives);
    assert.is(plan.length, archives.length);
    if (maxArchives === 3) assert.ok(archives.length > 1, 'the images are split into stages');
    const seen = new Set<string>();
    plan.forEach((actions, index) => {
      for (const action of actions) {
        if (action.kind === 'base') throw new Error(`${action.digest} is held elsewhere, but nothing is`);
        const bytes = archives[index]!.subarray(action.offset, action.offset + action.size);
        assert.is(bytes.length, action.size);
        assert.is(sha(bytes), action.digest, `${action.kind} ${action.digest} in archive ${index}`);
        if (action.kind === 'blob') seen.add(action.digest);
      }
    });
    const wanted = new Set(images.flatMap(({ image: i }) => [i.config.digest, ...i.layers.map((layer) => layer.digest)]));
    assert.equal([...seen].sort(), [...wanted].sort(), 'every config and layer, each once');
  }
});

test('a shared layer is uploaded to one repository and mounted into the other; manifests come last', async () => {
  const { plan } = await planned(3);
  const text = formatImagePush(locatePushActions(plan.map((push, index) => ({ path: `images/images-${index + 1}.tar`, push }))));
  const lines = text.trimEnd().split('\n').map((line) => line.split('\t'));
  const firstManifest = lines.findIndex((line) => line[0] === 'manifest');
  assert.ok(lines.slice(firstManifest).every((line) => line[0] === 'manifest'), 'no blob after a manifest');
  const shared = lines.find((line) => line[0] === 'blob' && line[4] === base.digest)!;
  assert.is(shared[5], 'gcr.io/ml-pipeline/api-server gcr.io/ml-pipeline/frontend');
});

test('a whole index is put after its child by digest; of a partial one, the platform manifest goes under the tag', async () => {
  const { plan } = await planned(1);
  const manifests = plan.flat().filter((action): action is Extract<PushAction, { kind: 'manifest' }> => action.kind === 'manifest');
  const frontend = images[1]!.image;
  const mysql = images[2]!.image;
  assert.equal(
    manifests.filter((put) => put.repository === 'gcr.io/ml-pipeline/frontend').map((put) => [put.reference, put.digest, put.mediaType]),
    [
      [frontend.manifestDigest, frontend.manifestDigest, MANIFEST],
      ['2.0.5', frontend.indexDigest, INDEX],
    ],
  );
  assert.equal(
    manifests.filter((put) => put.repository === 'docker.io/library/mysql').map((put) => [put.reference, put.digest]),
    [['8.0.29', mysql.manifestDigest]],
  );
});

test.run();
