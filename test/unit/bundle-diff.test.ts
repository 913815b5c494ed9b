// kfbundle diff's rules: a reference on both sides is unchanged unless its content differs; a repository whose tag
// moved is one change, not an addition and a removal; CRDs compare by version list; phases by label, as their numbers
// move; and what a delta would leave out counts the newer bundle's blobs the older one brought.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { crdsOf, diffSides, type DiffSide } from '../../src/core/bundle-diff.js';
import type { KubernetesObject } from '../../src/core/k8s-object.js';

const test = suite('bundle diff');

const side = (name: string, overrides: Partial<DiffSide>): DiffSide => ({ name, kind: 'bundle', images: [], crds: [], phases: [], blobs: null, layers: null, ...overrides });
const crd = (name: string, versions: string[]): KubernetesObject => ({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name }, spec: { versions: versions.map((v) => ({ name: v })) } });

test('images: kept, changed in content, moved to another tag, added and removed', () => {
  const diff = diffSides(
    side('old', {
      images: [
        { ref: 'gcr.io/x/kept:1', tier: 'install', digest: 'sha256:a' },
        { ref: 'gcr.io/x/rebuilt:1', tier: 'install', digest: 'sha256:b' },
        { ref: 'gcr.io/x/moved:1', tier: 'install', size: 10 },
        { ref: 'gcr.io/x/gone:1', tier: 'runtime' },
      ],
    }),
    side('new', {
      images: [
        { ref: 'gcr.io/x/kept:1', tier: 'install', digest: 'sha256:a' },
        { ref: 'gcr.io/x/rebuilt:1', tier: 'install', digest: 'sha256:c' },
        { ref: 'gcr.io/x/moved:2', tier: 'install', size: 12 },
        { ref: 'gcr.io/x/fresh:1', tier: 'install' },
      ],
    }),
  );
  assert.is(diff.images.unchanged, 1);
  assert.equal(diff.images.added.map((image) => image.ref), ['gcr.io/x/fresh:1']);
  assert.equal(diff.images.removed.map((image) => image.ref), ['gcr.io/x/gone:1']);
  assert.equal(diff.images.changed.map((change) => `${change.from.ref} ${change.why} ${change.to.ref}`), ['gcr.io/x/moved:1 tag gcr.io/x/moved:2', 'gcr.io/x/rebuilt:1 content gcr.io/x/rebuilt:1']);
});

test('CRDs by version list, phases by label, and what a delta leaves out', () => {
  const from = side('old', {
    crds: crdsOf([crd('a.x.io', ['v1']), crd('b.x.io', ['v1alpha1']), crd('gone.x.io', ['v1'])]),
    phases: [{ name: '00-crds', objects: 3 }, { name: '01-namespaces', objects: 1 }, { name: '02-resources', objects: 9 }],
    layers: new Set(['sha256:base']),
  });
  const to = side('new', {
    crds: crdsOf([crd('a.x.io', ['v1']), crd('b.x.io', ['v1alpha1', 'v1']), crd('new.x.io', ['v2'])]),
    phases: [{ name: '00-crds', objects: 3 }, { name: '01-namespaces', objects: 1 }, { name: '02-cert-manager', objects: 4 }, { name: '03-resources', objects: 11 }],
    blobs: new Map([['sha256:base', 700], ['sha256:own', 300]]),
  });
  const diff = diffSides(from, to);
  assert.equal(diff.crds, { added: [{ name: 'new.x.io', versions: ['v2'] }], removed: [{ name: 'gone.x.io', versions: ['v1'] }], changed: [{ name: 'b.x.io', from: ['v1alpha1'], to: ['v1alpha1', 'v1'] }] });
  assert.equal(diff.phases, { added: ['02-cert-manager'], removed: [], changed: [{ name: '03-resources', from: 9, to: 11 }] });
  assert.equal(diff.delta, { bytes: 1000, saved: 700 });
  // What a side does not know is not compared.
  assert.is(diffSides({ ...from, crds: null }, to).crds, null);
  assert.is(diffSides(to, from).delta, null);
});

test.run();
