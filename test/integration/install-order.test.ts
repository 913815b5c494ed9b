// Ordered install against the API server double with the real kubectl: a small release with Kubeflow's hard cases
// (cert-manager's webhook, a Certificate whose Secret a controller mounts, that controller's webhook gating a custom
// resource) is built for real, then install.sh loads it into the target engine and installs it phase by phase.
// The same manifests applied naively in one `kubectl apply` fail against a fresh double, as upstream's loop does.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiServerDouble } from '../api-double/api-server-double.js';
import { QUICK_MS, runCommand, runKfbundle } from '../helpers/cli.js';
import { dockerFor, pushStandIns } from '../helpers/synthetic-images.js';
import { loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { crdYaml, deploymentYaml } from '../helpers/manifests.js';

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  manifests: string;
}

const test = suite<Context>('ordered install against an API server double');

const CERT_MANAGER_IMAGE = 'quay.io/jetstack/cert-manager-webhook:v1.16.1';
const CONTROLLER_IMAGE = 'docker.io/kserve/kserve-controller:v0.15.0';

function deployment(namespace: string, name: string, image: string, extraPodSpec = ''): string {
  return deploymentYaml(namespace, name, `      - {name: main, image: "${image}"}\n`, extraPodSpec);
}

function service(namespace: string, name: string): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}}
spec: {selector: {app: ${name}}, ports: [{port: 443, targetPort: 9443}]}
`;
}

function webhook(name: string, namespace: string, serviceName: string, group: string, plural: string): string {
  return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: ${name}}
webhooks:
- name: ${name}.example.com
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  clientConfig: {service: {name: ${serviceName}, namespace: ${namespace}, path: /validate}}
  rules: [{apiGroups: ["${group}"], apiVersions: ["*"], resources: ["${plural}"], operations: [CREATE, UPDATE]}]
`;
}

// In the order kustomize's legacy sort renders it: CRDs and namespaces first, webhooks last, custom resources before
// the webhooks that guard them. Applied in one pass, the custom resources hit webhooks whose backends are not ready.
function release(): string {
  return [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: cert-manager}\n',
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: kubeflow}\n',
    crdYaml('cert-manager.io', 'Certificate', 'certificates'),
    crdYaml('cert-manager.io', 'Issuer', 'issuers'),
    crdYaml('serving.kserve.io', 'ClusterServingRuntime', 'clusterservingruntimes').replace('scope: Namespaced', 'scope: Cluster'),
    service('cert-manager', 'cert-manager-webhook'),
    service('kubeflow', 'kserve-controller-manager'),
    deployment('cert-manager', 'cert-manager-webhook', CERT_MANAGER_IMAGE),
    deployment('kubeflow', 'kserve-controller-manager', CONTROLLER_IMAGE, '      volumes: [{name: cert, secret: {secretName: kserve-webhook-server-cert}}]\n'),
    'apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {name: selfsigned, namespace: kubeflow}\nspec: {selfSigned: {}}\n',
    'apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: serving-cert, namespace: kubeflow}\nspec: {secretName: kserve-webhook-server-cert, issuerRef: {name: selfsigned}}\n',
    'apiVersion: serving.kserve.io/v1\nkind: ClusterServingRuntime\nmetadata: {name: kserve-sklearnserver}\nspec: {containers: [{name: kserve-container, image: "kserve/sklearnserver:v0.15.0"}]}\n',
    webhook('cert-manager-webhook', 'cert-manager', 'cert-manager-webhook', 'cert-manager.io', '*'),
    webhook('clusterservingruntime.serving.kserve.io', 'kubeflow', 'kserve-controller-manager', 'serving.kserve.io', 'clusterservingruntimes'),
  ].join('---\n');
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir();
    context.manifests = join(context.work.path, 'rendered.yaml');
    await writeFile(context.manifests, release());
    await mkdir(join(context.work.path, 'home'));
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('the naive single kubectl apply fails against the double the way it fails on a real cluster', async ({ work, manifests }) => {
  const double = new ApiServerDouble({ hasImage: async () => true });
  await double.start();
  try {
    const config = await writeKubeconfig(work.path, double.url);
    const result = await runCommand('kubectl', ['apply', '--server-side', '--force-conflicts', '-f', manifests], {
      env: { KUBECONFIG: config, HOME: join(work.path, 'home') },
      timeoutMs: QUICK_MS,
    });
    assert.is.not(result.code, 0);
    assert.match(result.stderr, /no matches for kind "(Issuer|Certificate|ClusterServingRuntime)"|ensure CRDs are installed first/);
  } finally {
    await double.stop();
  }
});

test('install.sh installs the bundle phase by phase: every Deployment Available, every object present', async ({ env, work, manifests }) => {
  await pushStandIns(dockerFor(env.builderHost), env.registry, [CERT_MANAGER_IMAGE, CONTROLLER_IMAGE]);
  const bundle = join(work.path, 'bundle');
  const built = await runKfbundle([
    'build', '--no-seed-registry', '--manifests', manifests, '--out', bundle, '--source', 'engine', '--docker-host', env.builderHost, '--no-progress',
    '--mirror', `quay.io=${env.registry}/quay.io`, '--mirror', `docker.io=${env.registry}/docker.io`,
  ]);
  assert.is(built.code, 0, built.stderr);

  const target = dockerFor(env.targetHost);
  const double = new ApiServerDouble({
    hasImage: (ref) => target.getImage(ref).inspect().then(() => true, () => false),
  });
  await double.start();
  try {
    const config = await writeKubeconfig(work.path, double.url);
    const plan = await runCommand('bash', [join(bundle, 'install.sh'), '--dry-run'], { timeoutMs: QUICK_MS });
    assert.match(plan.stdout, 'then wait: deployment cert-manager/cert-manager-webhook Available');

    // Each phase may wait up to --timeout: the limit on the whole run is a few of those.
    const result = await runCommand('bash', [join(bundle, 'install.sh'), '--timeout', '60', '--retry-delay', '1'], {
      env: { KUBECONFIG: config, HOME: join(work.path, 'home'), DOCKER_HOST: env.targetHost },
      timeoutMs: 300_000,
    });
    assert.is(result.code, 0, `${result.stdout}\n${result.stderr}`);
    for (const name of ['cert-manager-webhook', 'kserve-controller-manager']) {
      const deployment = double.list('Deployment').find((d) => d['metadata']['name'] === name)!;
      assert.ok(double.isAvailable(deployment), `${name} Available`);
    }
    assert.ok(double.get('Secret', 'kubeflow', 'kserve-webhook-server-cert'), 'cert-manager issued the Secret');
    assert.ok(double.list('ClusterServingRuntime').length === 1, 'the webhook-guarded resource was admitted');
    // No phase needed a retry: the plan applied nothing before what it depends on was ready.
    assert.not.match(result.stdout, 'apply failed');

    // Running it again converges: every phase re-applies cleanly and nothing changes state. The double writes nothing
    // for an apply that changes nothing, as a real API server does, so every object keeps its resourceVersion.
    const versions = (objects: Record<string, any>[]) =>
      Object.fromEntries(objects.map((o) => [`${o['kind']}/${o['metadata']['namespace'] ?? ''}/${o['metadata']['name']}`, `${o['metadata']['generation']}@${o['metadata']['resourceVersion']}`]));
    const settled = versions(double.all());
    const again = await runCommand('bash', [join(bundle, 'install.sh'), '--skip-images', '--timeout', '60'], {
      env: { KUBECONFIG: config, HOME: join(work.path, 'home') },
      timeoutMs: 300_000,
    });
    assert.is(again.code, 0, again.stderr);
    assert.is(double.list('ClusterServingRuntime').length, 1);
    assert.equal(versions(double.all()), settled);

    // Resuming from a later phase applies only that phase and the ones after it.
    const before = double.requests.length;
    const resumed = await runCommand('bash', [join(bundle, 'install.sh'), '--skip-images', '--from-phase', '4', '--timeout', '60'], {
      env: { KUBECONFIG: config, HOME: join(work.path, 'home') },
      timeoutMs: 300_000,
    });
    assert.is(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, 'phase 00-crds: skipped (--from-phase 4)');
    // And then records what is installed, as every install does (installer/inventory.sh).
    const patched = double.requests.slice(before).filter((r) => r.startsWith('PATCH '));
    const inventory = patched.filter((r) => r.includes('/namespaces/kube-system/configmaps/kfbundle-inventory?'));
    const phases = patched.filter((r) => !inventory.includes(r));
    assert.is(inventory.length, 1, patched.join('\n'));
    assert.ok(phases.length > 0 && phases.every((r) => /clusterservingruntimes|validatingwebhookconfigurations/.test(r)), patched.join('\n'));
  } finally {
    await double.stop();
  }
});

test('on a node without the images, install.sh stops at the first wait, naming the phase, the deployment and how to resume', async ({ work }) => {
  const bundle = join(work.path, 'bundle');
  const double = new ApiServerDouble({ hasImage: async () => false });
  await double.start();
  try {
    const config = await writeKubeconfig(work.path, double.url);
    const result = await runCommand('bash', [join(bundle, 'install.sh'), '--skip-images', '--timeout', '3', '--retry-delay', '1'], {
      env: { KUBECONFIG: config, HOME: join(work.path, 'home') },
    });
    assert.is(result.code, 1);
    assert.match(result.stderr, 'phase 02-cert-manager: timed out after 3s waiting for deployment cert-manager/cert-manager-webhook Available');
    assert.match(result.stderr, '--skip-images --from-phase 2');
    // The kubelet's view: the pod's container cannot pull the image, and the events name it.
    const deployment = double.get('Deployment', 'cert-manager', 'cert-manager-webhook')!;
    const [pod] = double.podsOf(deployment);
    const container = pod!['status']['containerStatuses'][0];
    assert.is(container['image'], CERT_MANAGER_IMAGE);
    assert.match(container['state']['waiting']['reason'], /^(ErrImagePull|ImagePullBackOff)$/);
    const pulls = double.list('Event').filter((e) => e['involvedObject']['name'] === pod!['metadata']['name'] && e['reason'] === 'Failed');
    assert.ok(pulls.some((e) => e['message'].startsWith(`Failed to pull image "${CERT_MANAGER_IMAGE}": `)), JSON.stringify(pulls));
    assert.is(double.list('Certificate').length, 0, 'nothing of a later phase was applied');
  } finally {
    await double.stop();
  }
});

test.run();
