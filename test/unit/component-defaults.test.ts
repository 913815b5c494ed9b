// The component table applied to workloads: a default is an image only while its override is unset; an override's
// value is the image instead; a known component at an unknown version is a warning; others are listed as unknown.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findCompiledDefaults, type Component } from '../../src/core/component-defaults.js';
import { parseManifests } from '../../src/core/k8s-object.js';

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
  assert.equal(result.recognised.map((c) => `${c.name} ${c.versions.join(',')}`), ['Database 8.0', 'Mesh 1.2']);
  assert.equal(result.unrecognised, ['ghcr.io/other/web']);
});

test.run();
