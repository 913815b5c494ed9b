// images --platform's answers, from registries played by a table: an index without the platform is "not offered" at
// once; a mirror that lacks the image passes the question to the next source, as a pull does; a single-platform image
// of another platform is "other-platform"; no source answering is "unknown", never "not offered".

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkPlatforms } from '../../src/app/check-platforms.js';
import { formatImageRef, parseImageRef, type ImageRef } from '../../src/core/image-ref.js';
import { parseMirror } from '../../src/core/mirrors.js';
import { RegistryError } from '../../src/core/registry-error.js';
import type { Platform } from '../../src/core/registry-image.js';
import { formatPlatform, parsePlatform, samePlatform } from '../../src/core/registry-manifest.js';

const test = suite('platform checks');

/** What each registry serves: reference → the platforms its index lists, or one platform of a single manifest. */
const served: Record<string, { index?: string[]; single?: string }> = {
  'mirror.cn/gcr.io/x/multi:1': { index: ['linux/amd64', 'linux/arm64'] },
  'gcr.io/x/amd-only:1': { index: ['linux/amd64'] },
  'gcr.io/x/single:1': { single: 'linux/amd64' },
  'mirror.cn/gcr.io/x/arm-single:1': { single: 'linux/arm64/v8' },
};

async function resolve(ref: ImageRef, platform: Platform): Promise<{ platform: Platform }> {
  const name = formatImageRef(ref);
  const image = served[name];
  if (image === undefined) throw new RegistryError(name.startsWith('gcr.io/x/down') ? 'unreachable' : 'not-found', `${name}: manifest unknown`);
  if (image.single !== undefined) return { platform: parsePlatform(image.single) };
  const entry = image.index!.find((offered) => samePlatform(parsePlatform(offered), platform));
  if (entry === undefined) throw new RegistryError('not-found', `${name} has no ${formatPlatform(platform)} image (it offers ${image.index!.join(', ')})`);
  return { platform: parsePlatform(entry) };
}

test('each image gets the answer its first answering source gives', async () => {
  const refs = ['gcr.io/x/multi:1', 'gcr.io/x/amd-only:1', 'gcr.io/x/single:1', 'gcr.io/x/arm-single:1', 'gcr.io/x/down:1'].map(parseImageRef);
  const checks = await checkPlatforms(refs, parsePlatform('linux/arm64'), { mirrors: parseMirror('gcr.io=mirror.cn/gcr.io'), concurrency: 2 }, { resolve });
  assert.equal(
    checks.map((check) => [check.ref, check.status, check.platform]),
    [
      ['gcr.io/x/multi:1', 'offered', 'linux/arm64'],
      ['gcr.io/x/amd-only:1', 'not-offered', undefined],
      ['gcr.io/x/single:1', 'other-platform', 'linux/amd64'],
      ['gcr.io/x/arm-single:1', 'offered', 'linux/arm64/v8'],
      ['gcr.io/x/down:1', 'unknown', undefined],
    ],
  );
  assert.match(checks[1]!.message!, /it offers linux\/amd64/);
  assert.match(checks[4]!.message!, /gcr\.io\/x\/down:1: manifest unknown/);
});

test.run();
