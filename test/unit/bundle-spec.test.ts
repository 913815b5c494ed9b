// Bundle specs: the shipped ones are valid, and a broken spec is refused naming the field.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseBundleSpec } from '../../src/core/bundle-spec.js';
import { discoverImages } from '../../src/core/discover-images.js';
import { parseManifests } from '../../src/core/k8s-object.js';
import { resolveImages, parseTiers } from '../../src/core/resolve-images.js';
import { resolveRelease } from '../../src/core/resolve-release.js';
import { readRendered, RELEASES } from '../helpers/fixtures.js';
import { formatImageRef } from '../../src/core/image-ref.js';
import { REPO_ROOT } from '../helpers/test-env.js';

const test = suite('bundle specs');
const SPEC_DIR = join(REPO_ROOT, 'bundle-spec');

test('one valid spec per supported release, with no stale excludes or overrides', async () => {
  const files = (await readdir(SPEC_DIR)).filter((name) => name.endsWith('.yaml')).sort();
  assert.equal(files, RELEASES.map((r) => `${r}.yaml`).sort());
  for (const release of RELEASES) {
    const spec = parseBundleSpec(await readFile(join(SPEC_DIR, `${release}.yaml`), 'utf8'), `${release}.yaml`);
    assert.is(spec.release, release);
    assert.is(spec.source.entry, 'example');
    // The whole resolve, component table included: a curated release leaves nothing to warn about.
    const { resolution, components } = resolveRelease(await readRendered(release), release, spec);
    // 26.03's one: its opt-in agentgateway template reads a value Istio 1.28.0 does not set, and nothing uses it.
    const expected = release === '26.03' ? ['ConfigMap/istio-system/istio-sidecar-injector data[config].templates.agentgateway line 86'] : [];
    assert.equal(resolution.warnings.map((w) => `${w.object} ${w.path}`), expected, `${release} spec matches its release`);
    assert.equal(components.unrecognised, [], `${release}: every workload image is of a component the table knows`);
    // Each curated release says which Kubernetes it supports, for install.sh's preflight.
    assert.ok(spec.kubernetes !== undefined && /^1\.\d+$/.test(spec.kubernetes.min) && /^1\.\d+$/.test(spec.kubernetes.max), `${release} kubernetes range`);
  }
});

test('26.03 pulls the released JobSet image in place of the staging one, and keeps the name the manifests use', async () => {
  const spec = parseBundleSpec(await readFile(join(SPEC_DIR, '26.03.yaml'), 'utf8'), '26.03.yaml');
  const resolution = resolveImages(discoverImages(parseManifests(await readRendered('26.03'), '26.03')), spec);
  const jobset = resolution.images.find((i) => i.ref.includes('jobset'))!;
  assert.is(jobset.ref, 'us-central1-docker.pkg.dev/k8s-staging-images/jobset/jobset:v0.10.1');
  assert.is(jobset.pullFrom?.registry, 'registry.k8s.io');
  assert.ok(jobset.included);
});

test('v1.10.2 bundles the PyTorch init container image compiled into training-operator v1, from the component table with or without its spec', async () => {
  const spec = parseBundleSpec(await readFile(join(SPEC_DIR, 'v1.10.2.yaml'), 'utf8'), 'v1.10.2.yaml');
  const text = await readRendered('v1.10.2');
  for (const withSpec of [spec, undefined]) {
    const { resolution } = resolveRelease(text, 'v1.10.2', withSpec);
    const alpine = resolution.images.find((i) => i.ref === 'docker.io/library/alpine:3.10')!;
    assert.ok(alpine.included);
    assert.is(alpine.tier, 'runtime');
    assert.equal(alpine.locations.map((l) => `${l.object} ${l.via}`), ['Deployment/kubeflow/training-operator compiled-in']);
  }
});

test('extras, excludes and tiers', () => {
  const spec = parseBundleSpec(
    `formatVersion: 1
release: test
source: {repository: kubeflow/manifests, ref: test}
tiers: [install]
images:
  extra: [{ref: "gcr.io/compiled/default:v1", tier: runtime, why: compiled into the controller}]
  exclude: [{ref: "busybox:1.28", why: not needed}]
`,
    'test.yaml',
  );
  const yaml = 'kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: "busybox:1.28"}, {name: b, image: "gcr.io/x/y:1"}]}\n';
  const discovery = discoverImages(parseManifests(yaml, 't'));
  const byDefault = resolveImages(discovery, spec);
  assert.equal(byDefault.images.map((i) => [i.ref, i.tier, i.included]), [
    ['gcr.io/x/y:1', 'install', true],
    ['gcr.io/compiled/default:v1', 'runtime', false],
  ]);
  assert.equal(byDefault.excluded, [{ ref: 'docker.io/library/busybox:1.28', why: 'not needed' }]);
  const all = resolveImages(discovery, spec, parseTiers('all'));
  assert.ok(all.images.every((i) => i.included));
  assert.is(parseTiers('install,bogus'), undefined);
});

test('invalid specs are refused with the field path and what was expected', () => {
  const base = 'formatVersion: 1\nrelease: r\nsource: {repository: kubeflow/manifests, ref: r}\n';
  const cases: [string, RegExp][] = [
    ['formatVersion: 2\nrelease: r\nsource: {repository: a/b, ref: r}\n', /formatVersion: expected 1, got 2/],
    ['formatVersion: 1\nrelease: r\nsource: {repository: nope, ref: r}\n', /source\.repository: expected owner\/name/],
    [`${base}tiers: [install, everything]\n`, /tiers\[1\]: expected one of install, runtime, catalog, conditional, example, got "everything"/],
    [`${base}images: {extra: [{ref: "Bad Ref", tier: runtime, why: x}]}\n`, /images\.extra\[0\]\.ref: .*white space/],
    [`${base}images: {extra: [{ref: "a/b:1", tier: runtime}]}\n`, /images\.extra\[0\]\.why: expected a non-empty string, got nothing/],
    [`${base}images: {override: [{ref: "a/b:1", pullfrom: "c/d:1", why: x}]}\n`, /images\.override\[0\]\.pullfrom: unknown field/],
    [`${base}sources: {}\n`, /sources: unknown field/],
    [`${base}images: {override: [{ref: "a/b:1", repository: "a/b", pullFrom: "c/d:1", why: x}]}\n`, /images\.override\[0\]: give either ref \(one image\) or repository/],
    [`${base}images: {override: [{repository: "a/b:1", pullFrom: "c/d", why: x}]}\n`, /images\.override\[0\]\.repository: expected a repository without tag or digest/],
    ['source: [unclosed\n', /not valid YAML/],
    [`${base}kubernetes: {min: 1.30, max: "1.32", why: x}\n`, /kubernetes\.min: expected a quoted MAJOR\.MINOR such as "1\.32", got the number 1\.3/],
    [`${base}kubernetes: {min: "1.33", max: "1.32", why: x}\n`, /kubernetes: min 1\.33 is newer than max 1\.32/],
    [`${base}kubernetes: {min: "v1.30", max: "1.32", why: x}\n`, /kubernetes\.min: expected a quoted MAJOR\.MINOR/],
    [`${base}kubernetes: {min: "1.30", max: "1.32"}\n`, /kubernetes\.why: expected a non-empty string/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseBundleSpec(text, 'spec.yaml'), (error: Error) => pattern.test(error.message) && error.message.includes('spec.yaml'), text);
  }
});

test('an override by repository pulls every tag and digest of it from the other repository', () => {
  const spec = parseBundleSpec(
    'formatVersion: 1\nrelease: r\nsource: {repository: kubeflow/manifests, ref: r}\nimages:\n  override:\n    - {repository: "gcr.io/k8s-staging-foo/bar", pullFrom: "registry.k8s.io/foo/bar", why: released there}\n',
    'spec.yaml',
  );
  const objects = parseManifests(
    ['gcr.io/k8s-staging-foo/bar:v1', `gcr.io/k8s-staging-foo/bar@sha256:${'a'.repeat(64)}`].map((ref, i) => `apiVersion: v1\nkind: Pod\nmetadata: {name: p${i}}\nspec: {containers: [{name: c, image: "${ref}"}]}\n`).join('---\n'),
    'pods.yaml',
  );
  const resolution = resolveImages(discoverImages(objects), spec);
  assert.equal(resolution.images.map((image) => `${image.ref} <- ${image.pullFrom === undefined ? '-' : formatImageRef(image.pullFrom)}`).sort(), [
    `gcr.io/k8s-staging-foo/bar:v1 <- registry.k8s.io/foo/bar:v1`,
    `gcr.io/k8s-staging-foo/bar@sha256:${'a'.repeat(64)} <- registry.k8s.io/foo/bar@sha256:${'a'.repeat(64)}`,
  ].sort());
  assert.equal(resolution.warnings, [], 'overridden: no staging warning');
  const without = resolveImages(discoverImages(objects), undefined);
  assert.is(without.warnings.length, 2);
  assert.match(without.warnings[0]!.message, 'the released image is registry.k8s.io/foo/bar:v1');
});

test.run();
