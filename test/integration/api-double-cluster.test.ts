// The API server double as a cluster, driven by the real kubectl, with the *target* Docker engine as its nodes'
// image store: workloads make pods, the scheduler places them or says why not in the scheduler's words, the kubelet
// runs them or fails the way kubelet v1.32 fails (ErrImagePull, ImagePullBackOff, CrashLoopBackOff, FailedMount),
// claims bind through the default StorageClass, and the standalone server (main.ts) serves a kubeconfig and stops on
// SIGTERM. The messages asserted here are written out from Kubernetes' sources, not read back from the double.

import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create as createTar } from 'tar';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiServerDouble } from '../api-double/api-server-double.js';
import { QUICK_MS, runCommand, type RunResult } from '../helpers/cli.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { dockerFor } from '../helpers/synthetic-images.js';
import { REPO_ROOT, loudHook, useTestEnv, type TestEnv } from '../helpers/test-env.js';
import { makeTempDir } from '../helpers/tmp.js';

type Obj = Record<string, any>;

interface Context {
  env: TestEnv;
  work: { path: string; remove(): Promise<void> };
  double: ApiServerDouble;
  kubeEnv: NodeJS.ProcessEnv;
  /** On the target engine from the start. */
  present: string;
  /** Tagged on the target engine only once a test has seen it fail. */
  later: string;
  /** On the target engine; its containers crash. */
  crashing: string;
}

const test = suite<Context>('the API server double as a cluster, with the real kubectl and a real Docker engine');
const CRASH_LINES = ['loading /etc/app/config.yaml', 'connecting to mysql:3306', 'error: dial tcp: lookup mysql: no such host'];

const kubectl = (context: Context, args: string[]): Promise<RunResult> => runCommand('kubectl', args, { env: context.kubeEnv, timeoutMs: QUICK_MS });

async function apply(context: Context, name: string, yaml: string): Promise<void> {
  const file = join(context.work.path, `${name}.yaml`);
  await writeFile(file, yaml);
  const result = await kubectl(context, ['apply', '--server-side', '-f', file]);
  assert.is(result.code, 0, result.stderr);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function json(context: Context, args: string[]): Promise<Obj> {
  const result = await kubectl(context, [...args, '-o', 'json']);
  assert.is(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Obj;
}

function deployment(name: string, image: string, podSpec = ''): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
${podSpec}      containers:
      - {name: main, image: "${image}"}
`;
}

/** The only pod of an app, once there is one, read with kubectl. */
async function podOf(context: Context, app: string): Promise<Obj> {
  return waitFor(`a pod of ${app}`, async () => (await json(context, ['get', 'pods', '-l', `app=${app}`]))['items'][0]);
}

/** An image of /bin/busybox alone, made with `docker import` of a tar. */
async function importImage(env: TestEnv, dir: string, ref: string): Promise<void> {
  const root = join(dir, 'rootfs');
  await mkdir(join(root, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  const tarball = join(dir, 'busybox.tar');
  await createTar({ cwd: root, file: tarball, portable: true }, ['bin']);
  const imported = await runCommand('docker', ['--host', env.targetHost, 'import', tarball, ref], { timeoutMs: 60_000 });
  assert.is(imported.code, 0, imported.stderr);
}

test.before(
  loudHook('setup', async (context) => {
    context.env = await useTestEnv();
    context.work = await makeTempDir('kfb-cluster-');
    await mkdir(join(context.work.path, 'home'));
    const prefix = `registry.example/kfb-double-${process.pid}`;
    context.present = `${prefix}/app:1.0`;
    context.later = `${prefix}/late:1.0`;
    context.crashing = `${prefix}/crash:1.0`;
    await importImage(context.env, context.work.path, context.present);
    const target = dockerFor(context.env.targetHost);
    await target.getImage(context.present).tag({ repo: `${prefix}/crash`, tag: '1.0' });
    const hasImage = (ref: string) => target.getImage(ref).inspect().then(() => true, () => false);
    context.double = new ApiServerDouble({
      nodes: [{ name: 'node-a', hasImage }, { name: 'node-b', hasImage, cpu: '2', memory: '4Gi' }],
      crashes: (ref) => (ref === context.crashing ? CRASH_LINES : undefined),
    });
    await context.double.start();
    context.kubeEnv = { KUBECONFIG: await writeKubeconfig(context.work.path, context.double.url), HOME: join(context.work.path, 'home') };
  }),
);

test.after(
  loudHook('teardown', async (context) => {
    await context.double?.stop();
    const target = dockerFor(context.env.targetHost);
    for (const ref of [context.present, context.later, context.crashing]) await target.getImage(ref).remove({ force: true }).catch(() => undefined);
    await context.work?.remove();
    await context.env?.release();
  }),
);

test('a Deployment whose image the node has: a ReplicaSet, Running pods, Available, and endpoints with the pods', async (context) => {
  await apply(context, 'web', deployment('web', context.present).replace('replicas: 1', 'replicas: 2') + '---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}\n');
  const waited = await kubectl(context, ['wait', '--for=condition=Available', 'deployment/web', '--timeout=30s']);
  assert.is(waited.code, 0, waited.stderr);

  const pods = (await json(context, ['get', 'pods', '-l', 'app=web']))['items'] as Obj[];
  assert.is(pods.length, 2);
  const replicaSets = (await json(context, ['get', 'replicasets', '-l', 'app=web']))['items'] as Obj[];
  assert.is(replicaSets.length, 1);
  const [replicaSet] = replicaSets;
  assert.match(replicaSet!['metadata']['name'], /^web-[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
  assert.equal(replicaSet!['metadata']['ownerReferences'][0], { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: context.double.get('Deployment', 'default', 'web')!['metadata']['uid'], controller: true, blockOwnerDeletion: true });
  for (const pod of pods) {
    assert.match(pod['metadata']['name'], new RegExp(`^${replicaSet!['metadata']['name']}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
    assert.is(pod['metadata']['ownerReferences'][0]['kind'], 'ReplicaSet');
    assert.is(pod['metadata']['labels']['pod-template-hash'], replicaSet!['metadata']['labels']['pod-template-hash']);
    assert.is(pod['status']['phase'], 'Running');
    assert.match(pod['status']['podIP'], /^10\.244\.\d+\.\d+$/);
    assert.equal(pod['status']['containerStatuses'][0]['state']['running'] !== undefined, true);
    assert.is(pod['status']['containerStatuses'][0]['image'], context.present);
    assert.equal(pod['status']['conditions'].map((c: Obj) => `${c['type']}=${c['status']}`).sort(), ['ContainersReady=True', 'Initialized=True', 'PodReadyToStartContainers=True', 'PodScheduled=True', 'Ready=True']);
  }
  const wide = await kubectl(context, ['get', 'pods', '-A', '-o', 'wide']);
  assert.is(wide.code, 0, wide.stderr);
  assert.match(wide.stdout, /^NAMESPACE +NAME +READY +STATUS +RESTARTS +AGE +IP +NODE +NOMINATED NODE +READINESS GATES\n/);
  for (const pod of pods) assert.match(wide.stdout, new RegExp(`default +${pod['metadata']['name']} +1/1 +Running +0 +\\S+ +${pod['status']['podIP'].replaceAll('.', '\\.')} +${pod['spec']['nodeName']} `));
  const ips = await kubectl(context, ['get', 'endpoints', 'web', '-o', 'jsonpath={.subsets[*].addresses[*].ip}']);
  assert.equal(ips.stdout.split(' ').sort(), pods.map((p) => p['status']['podIP']).sort());
  const described = await kubectl(context, ['describe', 'pod', pods[0]!['metadata']['name']]);
  assert.match(described.stdout, `Container image "${context.present}" already present on machine`);
  assert.match(described.stdout, /Normal +Scheduled +\S+ +default-scheduler +Successfully assigned default\//);
});

test('an image the node lacks: ErrImagePull, then ImagePullBackOff, events on its node naming it; loading the image heals it', async (context) => {
  const seen = new Set<string>();
  const watch = setInterval(() => {
    for (const pod of context.double.list('Pod').filter((p) => p['metadata']['labels']?.['app'] === 'late')) {
      const reason = pod['status']?.['containerStatuses']?.[0]?.['state']?.['waiting']?.['reason'];
      if (reason) seen.add(reason);
    }
  }, 20);
  try {
    await apply(context, 'late', deployment('late', context.later, '      nodeSelector: {kubernetes.io/hostname: node-b}\n'));
    const pod = await waitFor('ImagePullBackOff', async () => {
      const found = await podOf(context, 'late');
      return found['status']?.['containerStatuses']?.[0]?.['state']?.['waiting']?.['reason'] === 'ImagePullBackOff' ? found : undefined;
    });
    assert.ok(seen.has('ErrImagePull'), `ErrImagePull came first: ${[...seen].join(', ')}`);
    assert.is(pod['spec']['nodeName'], 'node-b');
    assert.is(pod['status']['phase'], 'Pending');
    assert.is(pod['status']['containerStatuses'][0]['state']['waiting']['message'], `Back-off pulling image "${context.later}"`);
    const name = pod['metadata']['name'];
    const events = (await json(context, ['get', 'events', '--field-selector', `involvedObject.kind=Pod,involvedObject.name=${name}`]))['items'] as Obj[];
    const failed = events.find((e) => e['reason'] === 'Failed' && String(e['message']).startsWith('Failed to pull image'));
    assert.ok(failed, JSON.stringify(events.map((e) => `${e['reason']}: ${e['message']}`)));
    const host = context.later.split('/')[0];
    assert.is(
      failed!['message'],
      `Failed to pull image "${context.later}": failed to pull and unpack image "${context.later}": failed to resolve reference "${context.later}": failed to do request: Head "https://${host}/v2/${context.later.slice(host!.length + 1).replace(':1.0', '')}/manifests/1.0": dial tcp: lookup ${host}: no such host`,
    );
    assert.equal(failed!['source'], { component: 'kubelet', host: 'node-b' });
    assert.equal(
      { kind: failed!['involvedObject']['kind'], name: failed!['involvedObject']['name'], namespace: failed!['involvedObject']['namespace'], uid: failed!['involvedObject']['uid'], fieldPath: failed!['involvedObject']['fieldPath'] },
      { kind: 'Pod', name, namespace: 'default', uid: pod['metadata']['uid'], fieldPath: 'spec.containers{main}' },
    );
    const reasons = events.map((e) => `${e['type']} ${e['reason']}: ${e['message']}`);
    for (const expected of [`Normal Pulling: Pulling image "${context.later}"`, 'Warning Failed: Error: ErrImagePull', `Normal BackOff: Back-off pulling image "${context.later}"`, 'Warning Failed: Error: ImagePullBackOff']) {
      assert.ok(reasons.includes(expected), `${expected} in ${JSON.stringify(reasons)}`);
    }
    // A repeated event is one object counted again, not another object.
    assert.is(new Set(reasons).size, reasons.length);
    const logs = await kubectl(context, ['logs', name]);
    assert.is(logs.code, 1);
    assert.match(logs.stderr, `Error from server (BadRequest): container "main" in pod "${name}" is waiting to start: trying and failing to pull image`);

    const tagged = await runCommand('docker', ['--host', context.env.targetHost, 'tag', context.present, context.later]);
    assert.is(tagged.code, 0, tagged.stderr);
    const waited = await kubectl(context, ['wait', '--for=condition=Available', 'deployment/late', '--timeout=20s']);
    assert.is(waited.code, 0, waited.stderr);
    const healed = await json(context, ['get', 'pod', name]);
    assert.ok(healed['status']['containerStatuses'][0]['state']['running'], 'the same pod runs once the node has the image');
  } finally {
    clearInterval(watch);
  }
});

test("pods that fit nowhere stay Pending with the scheduler's message; a fix (uncordon) schedules them", async (context) => {
  const unschedulable = async (app: string) =>
    waitFor(`${app} unschedulable`, async () => {
      const pod = await podOf(context, app);
      const condition = (pod['status']['conditions'] ?? []).find((c: Obj) => c['type'] === 'PodScheduled' && c['status'] === 'False');
      return condition === undefined ? undefined : { pod, condition };
    });
  await apply(context, 'huge', deployment('huge', context.present).replace(`image: "${context.present}"}`, `image: "${context.present}", resources: {requests: {cpu: "20", memory: 1Gi}}}`));
  const huge = await unschedulable('huge');
  assert.is(huge.condition['reason'], 'Unschedulable');
  assert.is(huge.condition['message'], '0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.');
  assert.is(huge.pod['status']['phase'], 'Pending');
  const events = (await json(context, ['get', 'events', '--field-selector', `involvedObject.name=${huge.pod['metadata']['name']},reason=FailedScheduling`]))['items'] as Obj[];
  assert.is(events.length, 1);
  assert.is(events[0]!['type'], 'Warning');
  assert.is(events[0]!['message'], huge.condition['message']);
  assert.is(events[0]!['reportingComponent'], 'default-scheduler');

  const pinned = '      nodeSelector: {kubernetes.io/hostname: node-b}\n';
  await apply(context, 'pinned', deployment('pinned', context.present, pinned).replace(`image: "${context.present}"}`, `image: "${context.present}", resources: {requests: {cpu: "3"}}}`));
  assert.is((await unschedulable('pinned')).condition['message'], "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.");

  const cordoned = await kubectl(context, ['cordon', 'node-a']);
  assert.is(cordoned.code, 0, cordoned.stderr);
  assert.match(cordoned.stdout, 'node/node-a cordoned');
  await apply(context, 'on-a', deployment('on-a', context.present, '      nodeSelector: {kubernetes.io/hostname: node-a}\n'));
  assert.is((await unschedulable('on-a')).condition['message'], "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.");
  const uncordoned = await kubectl(context, ['uncordon', 'node-a']);
  assert.is(uncordoned.code, 0, uncordoned.stderr);
  const waited = await kubectl(context, ['wait', '--for=condition=Available', 'deployment/on-a', '--timeout=20s']);
  assert.is(waited.code, 0, waited.stderr);
});

test('claims: the default StorageClass for one that names none; no class or a missing class stays Pending, its pod unschedulable', async (context) => {
  const claim = (name: string, storageClass?: string) =>
    `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: ${name}, namespace: default}\nspec: {${storageClass === undefined ? '' : `storageClassName: "${storageClass}", `}accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Gi}}}\n`;
  const mounting = (claimName: string) => `      volumes: [{name: data, persistentVolumeClaim: {claimName: ${claimName}}}]\n`;
  await apply(context, 'claims', [claim('data'), claim('bare', ''), claim('fast', 'fast-ssd')].join('---\n'));
  await apply(context, 'claimed', [deployment('uses-data', context.present, mounting('data')), deployment('uses-bare', context.present, mounting('bare')), deployment('uses-ghost', context.present, mounting('ghost'))].join('---\n'));

  const data = await waitFor('claim data Bound', async () => {
    const found = await json(context, ['get', 'pvc', 'data']);
    return found['status']['phase'] === 'Bound' ? found : undefined;
  });
  assert.is(data['spec']['storageClassName'], 'standard', 'DefaultStorageClass admission named the default class');
  assert.is(data['spec']['volumeName'], `pvc-${data['metadata']['uid']}`);
  const waited = await kubectl(context, ['wait', '--for=condition=Available', 'deployment/uses-data', '--timeout=20s']);
  assert.is(waited.code, 0, waited.stderr);

  const scheduledMessage = async (app: string) =>
    waitFor(`${app} unschedulable`, async () => (await podOf(context, app))['status']['conditions']?.find((c: Obj) => c['type'] === 'PodScheduled' && c['status'] === 'False')?.['message'] as string | undefined);
  assert.is(await scheduledMessage('uses-bare'), '0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.');
  assert.is(await scheduledMessage('uses-ghost'), '0/2 nodes are available: persistentvolumeclaim "ghost" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.');
  const claimEvent = async (name: string) =>
    waitFor(`an event on claim ${name}`, async () => ((await json(context, ['get', 'events', '--field-selector', `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${name}`]))['items'] as Obj[])[0]);
  const bare = await claimEvent('bare');
  assert.equal([bare['type'], bare['reason'], bare['message'], bare['source']['component']], ['Normal', 'FailedBinding', 'no persistent volumes available for this claim and no storage class is set', 'persistentvolume-controller']);
  const fast = await claimEvent('fast');
  assert.equal([fast['type'], fast['reason'], fast['message']], ['Warning', 'ProvisioningFailed', 'storageclass.storage.k8s.io "fast-ssd" not found']);

  const listed = await kubectl(context, ['get', 'pvc']);
  assert.match(listed.stdout, /^NAME +STATUS +VOLUME +CAPACITY +ACCESS MODES +STORAGECLASS +VOLUMEATTRIBUTESCLASS +AGE\n/);
  assert.match(listed.stdout, new RegExp(`\\ndata +Bound +pvc-${data['metadata']['uid']} +2Gi +RWO +standard +<unset> `));
  assert.match(listed.stdout, /\nbare +Pending +/);
  const classes = await kubectl(context, ['get', 'storageclass']);
  assert.match(classes.stdout, /\nstandard \(default\) +rancher\.io\/local-path +Delete +Immediate +false +/);

  // The class made later provisions the claim that named it.
  await apply(context, 'fast-ssd', 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast-ssd}\nprovisioner: example.com/fast\n');
  await waitFor('claim fast Bound', async () => ((await json(context, ['get', 'pvc', 'fast']))['status']['phase'] === 'Bound' ? true : undefined));
});

test('a cluster without StorageClasses: a claim that names none waits, and gets the default class made later (retroactive assignment)', async (context) => {
  const bare = new ApiServerDouble({ nodes: ['solo'], storageClasses: [] });
  await bare.start();
  try {
    const env = { KUBECONFIG: await writeKubeconfig(join(context.work.path, 'home'), bare.url), HOME: join(context.work.path, 'home') };
    const run = (args: string[]) => runCommand('kubectl', args, { env, timeoutMs: QUICK_MS });
    const file = join(context.work.path, 'retro.yaml');
    await writeFile(file, 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: early, namespace: default}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n');
    assert.is((await run(['apply', '--server-side', '-f', file])).code, 0);
    assert.is((await run(['get', 'storageclass'])).stderr, 'No resources found\n');
    const pending = await waitFor('FailedBinding', async () => {
      const events = JSON.parse((await run(['get', 'events', '--field-selector', 'involvedObject.name=early', '-o', 'json'])).stdout)['items'] as Obj[];
      return events.find((e) => e['reason'] === 'FailedBinding');
    });
    assert.is(pending['message'], 'no persistent volumes available for this claim and no storage class is set');
    assert.is((await run(['get', 'pvc', 'early', '-o', 'jsonpath={.status.phase} {.spec.storageClassName}'])).stdout, 'Pending ');

    await writeFile(file, 'apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}\nprovisioner: rancher.io/local-path\n');
    assert.is((await run(['apply', '--server-side', '-f', file])).code, 0);
    await waitFor('early Bound', async () => ((await run(['get', 'pvc', 'early', '-o', 'jsonpath={.status.phase} {.spec.storageClassName}'])).stdout === 'Bound local' ? true : undefined));
  } finally {
    await bare.stop();
  }
});

test('a crashing container goes CrashLoopBackOff, and kubectl logs --previous shows its last lines', async (context) => {
  await apply(context, 'crash', deployment('crash', context.crashing));
  const pod = await waitFor('CrashLoopBackOff', async () => {
    const found = await podOf(context, 'crash');
    return found['status']?.['containerStatuses']?.[0]?.['state']?.['waiting']?.['reason'] === 'CrashLoopBackOff' ? found : undefined;
  });
  const name = pod['metadata']['name'];
  const status = pod['status']['containerStatuses'][0];
  assert.ok(status['restartCount'] >= 1, `restartCount ${status['restartCount']}`);
  assert.is(status['ready'], false);
  assert.is(status['lastState']['terminated']['exitCode'], 1);
  assert.is(status['lastState']['terminated']['reason'], 'Error');
  assert.match(status['state']['waiting']['message'], new RegExp(`^back-off (10|20|40)s restarting failed container=main pod=${name}_default\\(${pod['metadata']['uid']}\\)$`));
  assert.is(pod['status']['phase'], 'Running');
  const logs = await kubectl(context, ['logs', name, '--previous', '--tail=2']);
  assert.is(logs.code, 0, logs.stderr);
  assert.is(logs.stdout, `${CRASH_LINES.slice(-2).join('\n')}\n`);
  const events = (await json(context, ['get', 'events', '--field-selector', `involvedObject.name=${name},reason=BackOff`]))['items'] as Obj[];
  assert.is(events[0]?.['message'], `Back-off restarting failed container main in pod ${name}_default(${pod['metadata']['uid']})`);
  const listed = await kubectl(context, ['get', 'pods', name]);
  assert.match(listed.stdout, new RegExp(`${name} +0/1 +CrashLoopBackOff +\\d+ \\(\\S+ ago\\) `));
});

test('a deleted pod is made again by its controller: under a new name, or for a StatefulSet the same one', async (context) => {
  const before = ((await json(context, ['get', 'pods', '-l', 'app=web']))['items'] as Obj[]).map((p) => p['metadata']['name']);
  const deleted = await kubectl(context, ['delete', 'pod', before[0]!]);
  assert.is(deleted.code, 0, deleted.stderr);
  const after = await waitFor('two web pods Running again', async () => {
    const pods = (await json(context, ['get', 'pods', '-l', 'app=web']))['items'] as Obj[];
    return pods.length === 2 && pods.every((p) => p['status']['phase'] === 'Running') ? pods.map((p) => p['metadata']['name']) : undefined;
  });
  assert.not.ok(after.includes(before[0]!), 'the replacement has a new name');
  assert.ok(after.includes(before[1]!));

  await apply(context, 'db', `apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: default}\nspec:\n  serviceName: db\n  replicas: 2\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec:\n      containers:\n      - {name: main, image: "${context.present}"}\n  volumeClaimTemplates:\n  - metadata: {name: data}\n    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n`);
  const ready = async () => (await json(context, ['get', 'statefulset', 'db']))['status']?.['readyReplicas'] === 2;
  await waitFor('db ready', async () => ((await ready()) ? true : undefined));
  assert.equal((await kubectl(context, ['get', 'pvc', 'data-db-0', 'data-db-1', '-o', 'jsonpath={.items[*].status.phase}'])).stdout, 'Bound Bound');
  const uid = (await json(context, ['get', 'pod', 'db-1']))['metadata']['uid'];
  assert.is((await kubectl(context, ['delete', 'pod', 'db-1'])).code, 0);
  const again = await waitFor('db-1 again', async () => {
    const pod = context.double.get('Pod', 'default', 'db-1');
    return pod !== undefined && pod['metadata']['uid'] !== uid && pod['status']?.['phase'] === 'Running' ? pod : undefined;
  });
  assert.is(again['spec']['volumes'].find((v: Obj) => v['name'] === 'data')['persistentVolumeClaim']['claimName'], 'data-db-1');
});

test('the standalone server writes its kubeconfig once it serves, kubectl works against it, and SIGTERM stops it', async (context) => {
  const kubeconfig = join(context.work.path, 'standalone', 'kubeconfig');
  await mkdir(join(context.work.path, 'standalone'));
  const main = join(REPO_ROOT, 'test/api-double/main.ts');
  const bad = await runCommand(process.execPath, ['--import', 'tsx', main, '--kubeconfig', kubeconfig, '--node', 'solo'], { timeoutMs: QUICK_MS });
  assert.is(bad.code, 2);
  assert.match(bad.stderr, 'api-double: --node needs NAME=DOCKER_HOST, got "solo"');

  const child = spawn(process.execPath, ['--import', 'tsx', main, '--kubeconfig', kubeconfig, '--node', `solo=${context.env.targetHost},cpu=4,memory=8Gi`, '--storage-class', 'fast', '--kubernetes-version', 'v1.31.4'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor('the kubeconfig', () => readFile(kubeconfig, 'utf8').then((text) => text, () => undefined));
    assert.match(stderr, /^api-double: Kubernetes v1\.31\.4 serving at http:\/\/127\.0\.0\.1:\d+ \(nodes solo\); kubeconfig /);
    const env = { KUBECONFIG: kubeconfig, HOME: join(context.work.path, 'home') };
    const nodes = await runCommand('kubectl', ['get', 'nodes'], { env, timeoutMs: QUICK_MS });
    assert.is(nodes.code, 0, nodes.stderr);
    assert.match(nodes.stdout, /\nsolo +Ready +<none> +\S+ +v1\.31\.4\n/);
    const allocatable = await runCommand('kubectl', ['get', 'node', 'solo', '-o', 'jsonpath={.status.allocatable.cpu} {.status.allocatable.memory} {.status.allocatable.pods}'], { env, timeoutMs: QUICK_MS });
    assert.is(allocatable.stdout, '4 8Gi 110');
    const classes = await runCommand('kubectl', ['get', 'storageclass', '-o', 'name'], { env, timeoutMs: QUICK_MS });
    assert.is(classes.stdout, 'storageclass.storage.k8s.io/fast\n');
  } finally {
    child.kill('SIGTERM');
  }
  assert.is(await exited, 0, stderr);
  assert.throws(() => process.kill(child.pid!, 0), /ESRCH/, 'the process is gone');
});

test.run();
