// The component table applied to workloads: a default is an image only while its override is unset; an override's
// value is the image instead; a known component at an unknown version is a warning; others are listed as unknown.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findCompiledDefaults, type Component } from '../../src/core/component-defaults.js';
import { COMPONENT_TABLE } from '../../src/core/component-table.js';
import type { ImageTier } from '../../src/core/discover-images.js';
import { parseImageRef } from '../../src/core/image-ref.js';
import { parseManifests } from '../../src/core/k8s-object.js';
import { resolveRelease, type ResolvedRelease } from '../../src/core/resolve-release.js';
import { ALL_RELEASES, readRendered, type AnyRelease } from '../helpers/fixtures.js';

const test = suite('compiled-in defaults by component and version');

const TABLE: readonly Component[] = [
  {
    name: 'Operator',
    repositories: ['ghcr.io/acme/operator', 'docker.io/acme/operator'],
    versions: [
      {
        tags: ['v1.0.0'],
        defaults: [
          { controller: 'ghcr.io/acme/operator', image: 'alpine:3.10', override: { flag: 'init-image' }, tier: 'runtime', why: 'acme@v1.0.0 main.go initImage' },
          { controller: 'ghcr.io/acme/operator', image: 'ghcr.io/acme/helper:{version}', override: { env: 'HELPER_IMAGE' }, tier: 'runtime', why: 'acme@v1.0.0 helper.go' },
        ],
      },
      { tags: ['v0.9.0'], defaults: [] },
    ],
    why: 'test',
  },
  { name: 'Mesh', repositories: ['gcr.io/mesh/controller'], versions: [{ tags: ['1.2'], defaults: [{ controller: 'gcr.io/mesh/controller', image: 'gcr.io/mesh/proxy:{version}', override: { flag: 'proxy-image' }, tier: 'runtime', why: 'mesh' }] }], why: 'test' },
  { name: 'Database', repositories: ['docker.io/library/mysql'], versions: 'any', why: 'pulls nothing' },
];

function deployment(name: string, container: string): string {
  return `---
kind: Deployment
metadata: {name: ${name}, namespace: "n"}
spec:
  template:
    spec:
      containers:
${container}`;
}

test('defaults apply while the overrides are unset; {version} is the controller tag', () => {
  const objects = parseManifests(deployment('op', '      - {name: c, image: "ghcr.io/acme/operator:v1.0.0"}'), 't');
  const result = findCompiledDefaults(objects, TABLE);
  assert.equal(
    result.findings.map((f) => `${f.raw} ${f.via} ${f.path}`),
    ['alpine:3.10 compiled-in compiled-in default (flag --init-image not set)', 'ghcr.io/acme/helper:v1.0.0 compiled-in compiled-in default (env HELPER_IMAGE not set)'],
  );
  assert.equal(result.warnings, []);
  assert.equal(result.recognised, [{ name: 'Operator', versions: ['v1.0.0'], known: true }]);
});

test("an override that is set replaces the default: its value is the image, in both flag forms and in env", () => {
  const container = `      - name: c
        image: ghcr.io/acme/operator:v1.0.0
        args: ["--init-image", "registry.local/busybox:1.36"]
        env: [{name: HELPER_IMAGE, value: "registry.local/helper:v9"}]`;
  const result = findCompiledDefaults(parseManifests(deployment('op', container), 't'), TABLE);
  assert.equal(
    result.findings.map((f) => `${f.raw} ${f.via} ${f.path}`),
    ['registry.local/busybox:1.36 arg spec.template.spec.containers[0].args[1]', 'registry.local/helper:v9 env spec.template.spec.containers[0].env[0].value'],
  );
  const inline = findCompiledDefaults(parseManifests(deployment('op', '      - {name: c, image: "ghcr.io/acme/operator:v1.0.0", command: ["/op", "--init-image=quay.io/x/init:1"]}'), 't'), TABLE);
  assert.ok(inline.findings.some((f) => f.raw === 'quay.io/x/init:1' && f.path === 'spec.template.spec.containers[0].command[1]'));
  assert.not.ok(inline.findings.some((f) => f.raw === 'alpine:3.10'));
});

test('a known component at a version the table lacks is a warning naming it, the object and the versions known', () => {
  const result = findCompiledDefaults(parseManifests(deployment('op', '      - {name: c, image: "ghcr.io/acme/operator:v2.0.0"}'), 't'), TABLE);
  assert.equal(result.findings, []);
  assert.equal(result.warnings.length, 1);
  assert.is(result.warnings[0]!.object, 'Deployment/n/op');
  assert.match(result.warnings[0]!.message, /^Operator at v2\.0\.0 is not in the component table \(known: v1\.0\.0, v0\.9\.0\)/);
  assert.equal(result.recognised, [{ name: 'Operator', versions: ['v2.0.0'], known: false }]);
});

test('an image pinned by digest alone takes its version from app.kubernetes.io/version; other images are listed as unrecognised', () => {
  const digest = 'sha256:' + 'b'.repeat(64);
  const yaml = `${deployment('mesh', `      - {name: c, image: "gcr.io/mesh/controller@${digest}"}`).replace('metadata: {name: mesh, namespace: "n"}', 'metadata: {name: mesh, namespace: "n", labels: {app.kubernetes.io/version: "1.2"}}')}
${deployment('db', '      - {name: db, image: "mysql:8.0"}')}
${deployment('web', '      - {name: web, image: "ghcr.io/other/web:v3"}')}`;
  const result = findCompiledDefaults(parseManifests(yaml, 't'), TABLE);
  assert.equal(result.findings.map((f) => f.raw), ['gcr.io/mesh/proxy:1.2']);
  assert.equal(result.recognised.map((c) => `${c.name} ${c.versions.join(',')}`), ['Database ', 'Mesh 1.2']);
  assert.equal(result.unrecognised, ['ghcr.io/other/web']);
});

// The shipped table on the four real releases, without a spec: what every release gets from it alone.
const WITH_TABLE: Record<AnyRelease, Record<ImageTier, number>> = {
  '26.03': { install: 53, runtime: 22, catalog: 25, conditional: 6, example: 2 },
  'v1.11.0': { install: 52, runtime: 21, catalog: 25, conditional: 6, example: 2 },
  'v1.10.2': { install: 51, runtime: 23, catalog: 19, conditional: 6, example: 2 },
  'v1.8.1': { install: 52, runtime: 24, catalog: 16, conditional: 7, example: 3 },
};
const resolved = new Map<AnyRelease, ResolvedRelease>();
const refsVia = (release: AnyRelease, via: string) =>
  resolved
    .get(release)!
    .resolution.images.filter((image) => image.locations.some((l) => l.via === via))
    .map((image) => image.ref);

test.before(async () => {
  for (const release of ALL_RELEASES) resolved.set(release, resolveRelease(await readRendered(release), release, undefined));
});

for (const release of ALL_RELEASES) {
  test(`${release}: every workload is of a known component at a known version, and the tiers with the table`, () => {
    const { resolution, components } = resolved.get(release)!;
    assert.equal(components.unrecognised, []);
    assert.equal(components.recognised.filter((c) => !c.known), []);
    assert.not.ok(resolution.warnings.some((w) => w.message.includes('component table')));
    const counts: Record<string, number> = {};
    for (const { tier } of resolution.images) counts[tier] = (counts[tier] ?? 0) + 1;
    assert.equal(counts, WITH_TABLE[release]);
  });
}

test('v1.8.1 (KFP 2.0.5, training-operator v1-855e096): the compiled-in driver, launcher and init containers apply, no override being set', () => {
  assert.equal(refsVia('v1.8.1', 'compiled-in').filter((ref) => /kfp-(driver|launcher)|alpine|kubectl-delivery/.test(ref)), [
    'docker.io/library/alpine:3.10',
    'docker.io/mpioperator/kubectl-delivery:latest',
    'gcr.io/ml-pipeline/kfp-driver@sha256:8e60086b04d92b657898a310ca9757631d58547e76bbbb8bfc376d654bef1707',
    'gcr.io/ml-pipeline/kfp-launcher@sha256:80cf120abd125db84fa547640fd6386c4b2a26936e0c2b04a7d3634991a850a4',
  ]);
  const driver = resolved.get('v1.8.1')!.resolution.images.find((i) => i.ref.startsWith('gcr.io/ml-pipeline/kfp-driver@'))!;
  assert.ok(driver.included);
  assert.equal(driver.locations.map((l) => `${l.object} ${l.path}`), ['Deployment/kubeflow/ml-pipeline compiled-in default (env V2_DRIVER_IMAGE not set)']);
});

test('an override set in the release suppresses the default: KFP 2.5.0 env, Argo and cert-manager flags', () => {
  const refs = (release: AnyRelease) => resolved.get(release)!.resolution.images.map((i) => i.ref);
  // v1.10.2 sets V2_DRIVER_IMAGE and V2_LAUNCHER_IMAGE: 2.5.0's :latest defaults are not bundled, the env values are.
  assert.not.ok(refs('v1.10.2').includes('ghcr.io/kubeflow/kfp-driver:latest'));
  const driver = resolved.get('v1.10.2')!.resolution.images.find((i) => i.ref === 'ghcr.io/kubeflow/kfp-driver:2.5.0')!;
  assert.equal(driver.locations.map((l) => l.via), ['env']);
  // v1.8.1 passes --executor-image and --acme-http01-solver-image: the upstream defaults are not bundled.
  assert.not.ok(refs('v1.8.1').includes('quay.io/argoproj/argoexec:v3.3.10'));
  assert.ok(refs('v1.8.1').includes('gcr.io/ml-pipeline/argoexec:v3.3.10-license-compliance'));
  assert.not.ok(refsVia('v1.8.1', 'compiled-in').some((ref) => ref.includes('acmesolver')));
  assert.ok(refs('v1.8.1').includes('quay.io/jetstack/cert-manager-acmesolver:v1.12.2'));
});

test('every entry of the shipped table cites where upstream keeps it, and its images parse', () => {
  for (const component of COMPONENT_TABLE) {
    assert.ok(component.why.length > 20, component.name);
    if (component.versions === 'any') continue;
    for (const version of component.versions) {
      for (const compiled of version.defaults) {
        assert.match(compiled.why, /^[\w.-]+\/[\w.-]+@[\w.-]+ \S+\.(go|tsx|ts) /, `${component.name} ${version.tags.join(',')}: ${compiled.why}`);
        assert.ok(component.repositories.includes(compiled.controller), compiled.controller);
        parseImageRef(compiled.image.replaceAll('{version}', version.tags[0]!));
      }
    }
  }
});

test.run();
