// build --platform (and images --platform): one platform or a list of them for a mixed cluster; a list a node could not choose from (one
// platform twice, or two variants of one architecture) is refused as a usage error naming it.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isKfbundleError } from '../../src/core/errors.js';
import { formatPlatform } from '../../src/core/registry-manifest.js';
import { platformsOption } from '../../src/cli/platform-option.js';

const test = suite('--platform');

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(isKfbundleError(error) && error.code === 'USAGE', String(error));
    return (error as Error).message;
  }
  throw new Error('not refused');
}

test('build takes this machine\'s platform, one, or several in the order given', () => {
  assert.equal(platformsOption(undefined, 'arm64').map(formatPlatform), ['linux/arm64']);
  assert.equal(platformsOption('linux/arm64', 'x64').map(formatPlatform), ['linux/arm64']);
  assert.equal(platformsOption('linux/arm64,linux/amd64', 'x64').map(formatPlatform), ['linux/arm64', 'linux/amd64']);
});

test('a list a node could not choose from is refused, naming the platform at fault', () => {
  assert.match(refusal(() => platformsOption('linux/arm64,linux/arm64/v8', 'x64')), 'names linux/arm64/v8 twice');
  assert.match(refusal(() => platformsOption('linux/arm/v6,linux/arm/v7', 'x64')), 'linux/arm/v6 and linux/arm/v7 are one architecture');
  assert.match(refusal(() => platformsOption('linux/amd64,arm64', 'x64')), 'invalid platform "arm64"');
});

test.run();
