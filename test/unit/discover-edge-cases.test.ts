// Discovery on small hand-written objects: what must be found, and what only looks like an image.

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { discoverImages } from '../../src/core/discover-images.js';
import { parseManifests } from '../../src/core/k8s-object.js';
import { patchManifests } from '../../src/core/patch-manifests.js';
import { relocateManifests } from '../../src/core/relocate-images.js';

const test = suite('image discovery edge cases');
const refsOf = (yaml: string) => discoverImages(parseManifests(yaml, 'test.yaml')).images.map((i) => i.ref);

test('URLs, label values, descriptions and placeholders are not images', () => {
  const yaml = `
kind: ConfigMap
metadata:
  name: c
  labels: {app.kubernetes.io/version: "v1.0"}
  annotations: {example.com/image: "gcr.io/in/annotation:v1"}
data:
  url: https://gcr.io/not/an:image
  endpoint: "minio-service.kubeflow:9000"
  description: "pull gcr.io/some/image:v1 yourself"
  _example: |
    image: gcr.io/only/documented:v1
---
kind: CustomResourceDefinition
metadata: {name: x}
spec: {versions: [{schema: {openAPIV3Schema: {description: "image: gcr.io/crd/doc:v1"}}}]}
`;
  assert.equal(refsOf(yaml), []);
});

test('unresolvable references become warnings naming object and path, never silent drops', () => {
  const yaml = `
kind: ConfigMap
metadata: {name: c, namespace: "n"}
data:
  spec.yaml: |
    image: $UNDEFINED_IMAGE
  other.yaml: |
    containers: [{image: "{{ .Values.image }}"}]
`;
  const discovery = discoverImages(parseManifests(yaml, 't'));
  assert.equal(discovery.images, []);
  assert.equal(
    discovery.warnings.map((w) => [w.object, w.path]),
    [
      ['ConfigMap/n/c', 'data[spec.yaml].image'],
      ['ConfigMap/n/c', 'data[other.yaml].containers[0].image'],
    ],
  );
  assert.match(discovery.warnings[0]!.message, '$UNDEFINED_IMAGE');
});

test('args in both forms (and not other flags), env names, ${VAR} and $(VAR), and list options of an image field', () => {
  const yaml = `
kind: Deployment
metadata: {name: d, namespace: "n"}
spec:
  template:
    spec:
      containers:
      - name: c
        image: gcr.io/app/main:v1
        args: ["--executor-image", "quay.io/x/executor:v2", "--sidecar-image=quay.io/x/sidecar:v3", "--other=quay.io/x/notimage:v4"]
        env:
        - {name: HELPER_IMAGE, value: "ghcr.io/x/helper:v5"}
        - {name: BASE, value: "ghcr.io/x/base:v6"}
---
kind: ConfigMap
metadata: {name: c, namespace: "n"}
data:
  config.json: '{"runner": {"image": "\${BASE}"}, "picker": {"image": {"value": "$(HELPER_IMAGE)", "options": ["ghcr.io/x/opt:v7"]}}}'
`;
  assert.equal(refsOf(yaml).sort(), [
    'gcr.io/app/main:v1',
    'ghcr.io/x/base:v6',
    'ghcr.io/x/helper:v5',
    'ghcr.io/x/opt:v7',
    'quay.io/x/executor:v2',
    'quay.io/x/sidecar:v3',
  ]);
});

test('a rewrite replaces whole references only: mysql:8.0 is not touched inside mysql:8.0.29', () => {
  const yaml = `
kind: ConfigMap
metadata: {name: c}
data:
  a.yaml: |
    one: {image: "mysql:8.0"}
    two: {image: "mysql:8.0.29"}
`;
  const objects = parseManifests(yaml, 't');
  const patched = patchManifests(objects, { imageRewrites: new Map([['docker.io/library/mysql:8.0', 'mirror.local/mysql:8.0']]) });
  const text = (patched.objects[0]!['data'] as Record<string, string>)['a.yaml']!;
  assert.match(text, 'image: "mirror.local/mysql:8.0"');
  assert.match(text, 'image: "mysql:8.0.29"');
  assert.is(objects[0]!['data'] === patched.objects[0]!['data'], false, 'edited object is a copy');
  assert.match((objects[0]!['data'] as Record<string, string>)['a.yaml']!, 'image: "mysql:8.0"');
});

test('an image is an image whatever its spelling or key: short names, untagged, digests, option lists, image groups, name maps', () => {
  const digest = 'sha256:' + 'a'.repeat(64);
  const yaml = `
kind: ConfigMap
metadata: {name: spawner, namespace: kubeflow}
data:
  spawner_ui_config.yaml: |
    spawnerFormDefaults:
      image:
        value: kubeflownotebookswg/jupyter-scipy:v1.8.0
        options: [kubeflownotebookswg/jupyter-scipy:v1.8.0, kubeflownotebookswg/jupyter-pytorch-full:v1.8.0]
        readOnly: false
      imageGroupOne:
        value: kubeflownotebookswg/codeserver-python:v1.8.0
        options: [kubeflownotebookswg/codeserver-python:v1.8.0]
      imagePullPolicy: {value: IfNotPresent}
      allowCustomImage: true
  runtimes.json: '{"runtimeImages": {"db": "mysql:8.0", "cache": "redis@${digest}"}, "explainer": {"image": "kserve/art-explainer", "defaultImageVersion": "v0.11.2"}}'
  kubernetes.podspec-volumes-image: disabled
---
kind: Deployment
metadata: {name: d, namespace: "n"}
spec:
  template:
    spec:
      containers:
      - name: c
        image: busybox
        args: ["--image-pull-policy", "Always", "--helper-image=python", "--worker-image", "alpine:3.19"]
        env:
        - {name: IMAGE_PULL_POLICY, value: Always}
        - {name: LoggerImage, value: "quay.io/x/logger"}
`;
  assert.equal(refsOf(yaml).sort(), [
    'docker.io/kserve/art-explainer:v0.11.2',
    'docker.io/kubeflownotebookswg/codeserver-python:v1.8.0',
    'docker.io/kubeflownotebookswg/jupyter-pytorch-full:v1.8.0',
    'docker.io/kubeflownotebookswg/jupyter-scipy:v1.8.0',
    'docker.io/library/alpine:3.19',
    'docker.io/library/busybox:latest',
    'docker.io/library/mysql:8.0',
    `docker.io/library/redis@${digest}`,
    'quay.io/x/logger:latest',
  ]);
  const warnings = discoverImages(parseManifests(yaml, 'test.yaml')).warnings;
  // A bare name in an arg has no hub or tag around it: said, not dropped.
  assert.equal(warnings.map((w) => `${w.path} ${w.value}`), ['spec.template.spec.containers[0].args[2] python']);
});

test('template text: literals are images (tiered by whether the template is a default one), built fields resolve through found values or warn', () => {
  const yaml = `
kind: ConfigMap
metadata: {name: injector, namespace: mesh}
data:
  values: '{"global": {"hub": "gcr.io/mesh", "tag": "1.0", "proxy": {"image": "proxy"}}}'
  config: |
    defaultTemplates: [main]
    templates:
      main: |
        containers:
        - name: helper
          image: quay.io/mesh/helper:2.0
        {{- if .Values.global.debug }}
        - name: proxy
          image: "{{ .Values.global.proxy.image }}"
        {{- else }}
        - name: proxy
          image: "{{ .ProxyImage }}"
        {{- end }}
      extra: |
        initContainers:
        - name: wait
          image: busybox:1.36
        - name: tool
          image: "{{ .Values.global.tool.image }}"
  workflow.yaml: |
    keyFormat: "{{workflow.name}}/{{pod.name}}"
    image: ghcr.io/x/argo-literal:v1
`;
  const found = discoverImages(parseManifests(yaml, 'test.yaml'));
  const tiers = Object.fromEntries(found.images.map((i) => [i.ref, i.tier]));
  assert.equal(tiers, {
    'quay.io/mesh/helper:2.0': 'runtime',
    'gcr.io/mesh/proxy:1.0': 'runtime',
    'docker.io/library/busybox:1.36': 'conditional',
    'ghcr.io/x/argo-literal:v1': 'runtime',
  });
  // The if/else around the proxy is one position, resolved by .Values.global.proxy.image; the tool is not resolved.
  assert.equal(found.warnings.map((w) => `${w.path}: ${w.value}`), ['data[config].templates.extra line 5: {{ .Values.global.tool.image }}']);
  assert.match(found.warnings[0]!.message, /\.Values\.global\.tool\.image, which the release's values do not set/);
  assert.match(found.warnings[0]!.message, /opt-in template/);
});

test('relocation moves an untagged name whose tag the controller appends, without adding a tag of its own', () => {
  const yaml = `
kind: ConfigMap
metadata: {name: c}
data:
  explainers: '{"art": {"image": "kserve/art-explainer", "defaultImageVersion": "latest"}}'
`;
  const objects = parseManifests(yaml, 't');
  const found = discoverImages(objects);
  const relocated = relocateManifests(objects, found.images.flatMap((i) => i.locations), found.images.map((i) => i.ref), 'registry.local:5000');
  assert.equal((relocated.objects[0]!['data'] as Record<string, string>)['explainers'], '{"art": {"image": "registry.local:5000/docker.io/kserve/art-explainer", "defaultImageVersion": "latest"}}');
});

test.run();
