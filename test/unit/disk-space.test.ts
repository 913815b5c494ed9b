// Bounds on the archive's size from the engine's accounting: shared layers counted once at least, every image at most.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { archiveSizeBounds } from '../../src/core/disk-space.js';

const test = suite('disk space');

test('images sharing a base: the lower bound counts the base once, the upper bound every image whole', () => {
  // Three images of 100 MB each, 80 MB of it a shared base.
  const bounds = archiveSizeBounds([0, 1, 2].map(() => ({ size: 100e6, sharedSize: 80e6 })));
  assert.is(bounds.lower, 3 * 20e6 + 80e6);
  assert.ok(bounds.upper >= 300e6 && bounds.upper < 301e6);
});

test('unshared images: both bounds are about the sum; an image alone is never less than its own size', () => {
  const bounds = archiveSizeBounds([{ size: 5e6, sharedSize: 0 }, { size: 7e6, sharedSize: 0 }]);
  assert.is(bounds.lower, 12e6);
  assert.is(archiveSizeBounds([{ size: 9e6, sharedSize: 9e6 }]).lower, 9e6);
  assert.equal(archiveSizeBounds([]), { lower: 0, upper: 0 });
});

test.run();
