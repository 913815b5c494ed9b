// The kubelets: each Ready node runs the pods bound to it, and reports them in status and events as kubelet v1.32
// does (with time compressed: its back-offs of 10 s and more take a tenth here, its image-pull retries look at the
// node's images about every second).
// - Volumes first: a missing non-optional Secret or ConfigMap keeps the pod ContainerCreating (PodInitializing with
//   init containers), with FailedMount events.
// - Then init containers one after another, then the containers, each by its pull policy: an image the node has
//   starts (IfNotPresent, Never); one it lacks, or any under Always, is pulled, which fails offline: ErrImagePull
//   with containerd's message, then ImagePullBackOff; with Never, ErrImageNeverPull. A failing container looks at the
//   node's images again about every second, so loading the image heals it; a running one is never looked at again.
// - A missing Secret or ConfigMap key an env var needs is CreateContainerConfigError.
// - A container whose image the `crashes` option names prints those lines, exits 1, is restarted at once the first
//   time and then goes CrashLoopBackOff with the kubelet's back-off message.
// - Containers of pods that do not restart (Jobs, restartPolicy Never or OnFailure) and init containers exit 0.
// - A running container is Ready availableDelayMs after it started; the pod's phase and conditions follow.

import { controllerOf, timestamp, type Cluster, type Obj } from './cluster.js';
import type { EventSource } from './events.js';
import { ImagePresence, RECHECK_MS, imageId, invalidImageMessage, pullError } from './images.js';
import { hostIp, isNodeReady, type ResolvedNode } from './nodes.js';
import { isRestartableInit, isTerminal, runtimeId } from './pods.js';

/** Real back-off seconds are shown in messages; the double waits a tenth of them. */
const TIME_SCALE = 0.1;
const PULL_BACKOFF_SECONDS = [10, 20, 40, 80, 160, 300];
const CRASH_RUN_MS = 100;
const INIT_RUN_MS = 100;
const MOUNT_RETRY_MAX_MS = 16_000;

interface Instance {
  id: string;
  startedAt: string;
  startedMs: number;
  exitAt: number | undefined;
  exitCode: number;
  logs: readonly string[];
}

interface Terminated {
  exitCode: number;
  reason: string;
  startedAt: string;
  finishedAt: string;
  containerID: string;
}

interface ContainerRun {
  name: string;
  image: string;
  init: boolean;
  sidecar: boolean;
  waiting: { reason: string; message?: string } | undefined;
  running: Instance | undefined;
  terminated: Terminated | undefined;
  lastTerminated: Terminated | undefined;
  restartCount: number;
  /** The pull back-off: when the next pull may be tried, and which step of the back-off comes after it. */
  nextPullAt: number;
  pullStep: number;
  /** When this container may be looked at again (image re-checks, repeated events). */
  nextLookAt: number;
  /** The crash-loop back-off in (real) seconds; 0 before the first exit. */
  crashBackoff: number;
  restartAt: number | undefined;
  logsById: Map<string, readonly string[]>;
}

interface PodRun {
  uid: string;
  node: string;
  ip: string | undefined;
  startTime: string;
  sandboxReady: boolean;
  nextMountAt: number;
  mountRetryMs: number;
  containers: Map<string, ContainerRun>;
  /** The pod's resourceVersion once nothing more can happen to it unless it changes: such a pod is not synced. */
  quietVersion: string | undefined;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return `${minutes}m${rest}s`;
}

export class Kubelet {
  private readonly cluster: Cluster;
  private readonly images = new ImagePresence();
  private readonly runs = new Map<string, PodRun>();
  private readonly nextIp = new Map<string, number>();
  /** Called when a pod finishes, freeing what it requested. */
  private readonly onPodFinished: () => void;

  constructor(cluster: Cluster, onPodFinished: () => void) {
    this.cluster = cluster;
    this.onPodFinished = onPodFinished;
  }

  private nodeSpec(name: string): ResolvedNode {
    const known = this.cluster.settings.nodes.find((n) => n.name === name);
    if (known !== undefined) return known;
    // A node registered by hand (kubectl apply) has the cluster's default images.
    return { name, hasImage: this.cluster.settings.defaultHasImage, cpu: '16', memory: '64Gi', ready: true, labels: {}, index: this.cluster.settings.nodes.length };
  }

  reconcile(now: number): void {
    const readyNodes = new Map<string, Obj>();
    for (const node of this.cluster.list('Node')) if (isNodeReady(node)) readyNodes.set(node['metadata']['name'], node);
    const live = new Set<string>();
    for (const pod of this.cluster.list('Pod')) {
      live.add(pod['metadata']['uid']);
      const nodeName = pod['spec']?.['nodeName'];
      if (nodeName === undefined || !readyNodes.has(nodeName) || isTerminal(pod)) continue;
      this.syncPod(pod, readyNodes.get(nodeName)!, now);
    }
    for (const uid of this.runs.keys()) if (!live.has(uid)) this.runs.delete(uid);
  }

  // ---- one pod ----

  private runOf(pod: Obj, node: Obj): PodRun {
    const uid = pod['metadata']['uid'];
    let run = this.runs.get(uid);
    if (run === undefined) {
      run = { uid, node: node['metadata']['name'], ip: undefined, startTime: timestamp(), sandboxReady: false, nextMountAt: 0, mountRetryMs: 500, containers: new Map(), quietVersion: undefined };
      this.runs.set(uid, run);
    }
    const spec = pod['spec'] ?? {};
    for (const [init, list] of [[true, spec['initContainers'] ?? []], [false, spec['containers'] ?? []]] as [boolean, Obj[]][]) {
      for (const container of list) {
        const key = `${init ? 'init' : 'main'}/${container['name']}`;
        const existing = run.containers.get(key);
        // A changed image is a new container; everything else about a running one stays.
        if (existing !== undefined && existing.image === container['image']) continue;
        run.containers.set(key, {
          name: container['name'],
          image: container['image'],
          init,
          sidecar: init && isRestartableInit(container),
          waiting: undefined,
          running: undefined,
          terminated: undefined,
          lastTerminated: existing?.terminated ?? existing?.lastTerminated,
          restartCount: existing?.restartCount ?? 0,
          nextPullAt: 0,
          pullStep: 0,
          nextLookAt: 0,
          crashBackoff: 0,
          restartAt: undefined,
          logsById: existing?.logsById ?? new Map(),
        });
      }
    }
    return run;
  }

  private syncPod(pod: Obj, node: Obj, now: number): void {
    if (this.runs.get(pod['metadata']['uid'])?.quietVersion === pod['metadata']['resourceVersion']) return;
    const run = this.runOf(pod, node);
    const spec = pod['spec'] ?? {};
    const source: EventSource = { component: 'kubelet', host: run.node };
    if (!run.sandboxReady) {
      if (now < run.nextMountAt) return this.writeStatus(pod, run, now);
      const missing = this.missingVolume(pod);
      if (missing !== undefined) {
        run.nextMountAt = now + run.mountRetryMs;
        run.mountRetryMs = Math.min(run.mountRetryMs * 2, MOUNT_RETRY_MAX_MS);
        this.cluster.events.record(pod, undefined, 'Warning', 'FailedMount', missing, source);
        return this.writeStatus(pod, run, now);
      }
      if (!this.claimsBound(pod)) return this.writeStatus(pod, run, now);
      run.sandboxReady = true;
      run.ip = spec['hostNetwork'] === true ? hostIp(this.nodeSpec(run.node).index) : this.allocateIp(run.node);
    }
    const restartPolicy: string = spec['restartPolicy'] ?? 'Always';
    let initDone = true;
    for (const container of (spec['initContainers'] ?? []) as Obj[]) {
      const state = run.containers.get(`init/${container['name']}`)!;
      this.step(pod, container, state, restartPolicy, source, now);
      if (state.sidecar ? state.running !== undefined : state.terminated?.exitCode === 0) continue;
      initDone = false;
      break;
    }
    if (initDone) {
      for (const container of (spec['containers'] ?? []) as Obj[]) this.step(pod, container, run.containers.get(`main/${container['name']}`)!, restartPolicy, source, now);
    }
    this.writeStatus(pod, run, now);
    const settled = [...run.containers.values()].every((c) => (c.running !== undefined && c.running.exitAt === undefined && this.isReady(c, now)) || c.terminated !== undefined);
    if (settled) run.quietVersion = this.cluster.get('Pod', pod['metadata']['namespace'], pod['metadata']['name'])?.['metadata']['resourceVersion'];
  }

  /** The FailedMount message for the first non-optional Secret or ConfigMap a volume needs that is not there. */
  private missingVolume(pod: Obj): string | undefined {
    const namespace = pod['metadata']['namespace'];
    for (const volume of (pod['spec']?.['volumes'] ?? []) as Obj[]) {
      const sources: Obj[] = [];
      if (isObj(volume['secret'])) sources.push({ secret: { name: volume['secret']['secretName'], optional: volume['secret']['optional'] } });
      if (isObj(volume['configMap'])) sources.push({ configMap: volume['configMap'] });
      if (isObj(volume['projected'])) sources.push(...((volume['projected']['sources'] ?? []) as Obj[]));
      for (const source of sources) {
        const secret = source['secret'];
        if (isObj(secret) && secret['optional'] !== true && this.cluster.get('Secret', namespace, secret['name']) === undefined) {
          return `MountVolume.SetUp failed for volume "${volume['name']}" : secret "${secret['name']}" not found`;
        }
        const configMap = source['configMap'];
        if (isObj(configMap) && configMap['optional'] !== true && this.cluster.get('ConfigMap', namespace, configMap['name']) === undefined) {
          return `MountVolume.SetUp failed for volume "${volume['name']}" : configmap "${configMap['name']}" not found`;
        }
      }
    }
    return undefined;
  }

  private claimsBound(pod: Obj): boolean {
    for (const volume of (pod['spec']?.['volumes'] ?? []) as Obj[]) {
      const name = volume['persistentVolumeClaim']?.['claimName'];
      if (name === undefined) continue;
      const claim = this.cluster.get('PersistentVolumeClaim', pod['metadata']['namespace'], name);
      if (claim?.['status']?.['phase'] !== 'Bound') return false;
    }
    return true;
  }

  /** Why the kubelet cannot make the container's environment (CreateContainerConfigError), if it cannot. */
  private configError(pod: Obj, container: Obj): string | undefined {
    const namespace = pod['metadata']['namespace'];
    const lookup = (kind: 'Secret' | 'ConfigMap', name: string) => this.cluster.get(kind, namespace, name);
    const hasKey = (object: Obj, key: string) => object['data']?.[key] !== undefined || object['stringData']?.[key] !== undefined || object['binaryData']?.[key] !== undefined;
    for (const env of (container['env'] ?? []) as Obj[]) {
      for (const [field, kind, word] of [['secretKeyRef', 'Secret', 'secret'], ['configMapKeyRef', 'ConfigMap', 'configmap']] as const) {
        const ref = env['valueFrom']?.[field];
        if (!isObj(ref) || ref['optional'] === true) continue;
        const object = lookup(kind, ref['name']);
        if (object === undefined) return `${word} "${ref['name']}" not found`;
        if (!hasKey(object, ref['key'])) return `couldn't find key ${ref['key']} in ${kind} ${namespace}/${ref['name']}`;
      }
    }
    for (const from of (container['envFrom'] ?? []) as Obj[]) {
      for (const [field, kind, word] of [['secretRef', 'Secret', 'secret'], ['configMapRef', 'ConfigMap', 'configmap']] as const) {
        const ref = from[field];
        if (isObj(ref) && ref['optional'] !== true && lookup(kind, ref['name']) === undefined) return `${word} "${ref['name']}" not found`;
      }
    }
    return undefined;
  }

  // ---- one container ----

  private fieldPath(state: ContainerRun): string {
    return `spec.${state.init ? 'initContainers' : 'containers'}{${state.name}}`;
  }

  private step(pod: Obj, container: Obj, state: ContainerRun, restartPolicy: string, source: EventSource, now: number): void {
    if (state.running !== undefined) {
      if (state.running.exitAt !== undefined && now >= state.running.exitAt) this.exit(pod, state, restartPolicy, source, now);
      return;
    }
    if (state.terminated !== undefined) return;
    if (state.restartAt !== undefined && now < state.restartAt) {
      if (now >= state.nextLookAt) {
        state.nextLookAt = now + RECHECK_MS;
        this.cluster.events.record(pod, this.fieldPath(state), 'Warning', 'BackOff', `Back-off restarting failed container ${state.name} in pod ${this.podName(pod)}`, source);
      }
      return;
    }
    if (now < state.nextLookAt) return;
    if (this.ensureImage(pod, container, state, source, now)) {
      const problem = this.configError(pod, container);
      if (problem !== undefined) {
        state.waiting = { reason: 'CreateContainerConfigError', message: problem };
        state.nextLookAt = now + RECHECK_MS;
        this.cluster.events.record(pod, this.fieldPath(state), 'Warning', 'Failed', `Error: ${problem}`, source);
        return;
      }
      this.start(pod, state, restartPolicy, source, now);
    }
  }

  /** Whether the image is there to start the container; otherwise the waiting state and events say why not. */
  private ensureImage(pod: Obj, container: Obj, state: ContainerRun, source: EventSource, now: number): boolean {
    const ref = state.image;
    const path = this.fieldPath(state);
    const invalid = invalidImageMessage(ref);
    if (invalid !== undefined) {
      state.waiting = { reason: 'InvalidImageName', message: invalid };
      state.nextLookAt = now + RECHECK_MS;
      this.cluster.events.record(pod, path, 'Warning', 'InspectFailed', invalid, source);
      this.cluster.events.record(pod, path, 'Warning', 'Failed', 'Error: InvalidImageName', source);
      return false;
    }
    const policy: string = container['imagePullPolicy'] ?? 'IfNotPresent';
    const node = this.nodeSpec(pod['spec']['nodeName']);
    if (policy !== 'Always') {
      const present = this.images.peek(node, ref, now);
      if (present === undefined) return false;
      if (present) {
        this.cluster.events.record(pod, path, 'Normal', 'Pulled', `Container image "${ref}" already present on machine`, source);
        return true;
      }
      if (policy === 'Never') {
        const message = `Container image "${ref}" is not present with pull policy of Never`;
        state.waiting = { reason: 'ErrImageNeverPull', message };
        state.nextLookAt = now + RECHECK_MS;
        this.cluster.events.record(pod, path, 'Warning', 'ErrImageNeverPull', message, source);
        this.cluster.events.record(pod, path, 'Warning', 'Failed', 'Error: ErrImageNeverPull', source);
        return false;
      }
    }
    state.nextLookAt = now + RECHECK_MS;
    if (now < state.nextPullAt) {
      const message = `Back-off pulling image "${ref}"`;
      state.waiting = { reason: 'ImagePullBackOff', message };
      this.cluster.events.record(pod, path, 'Normal', 'BackOff', message, source);
      this.cluster.events.record(pod, path, 'Warning', 'Failed', 'Error: ImagePullBackOff', source);
      return false;
    }
    // A pull, which cannot reach a registry from an isolated node.
    const error = pullError(ref);
    this.cluster.events.record(pod, path, 'Normal', 'Pulling', `Pulling image "${ref}"`, source);
    this.cluster.events.record(pod, path, 'Warning', 'Failed', `Failed to pull image "${ref}": ${error}`, source);
    this.cluster.events.record(pod, path, 'Warning', 'Failed', 'Error: ErrImagePull', source);
    state.waiting = { reason: 'ErrImagePull', message: error };
    state.nextPullAt = now + PULL_BACKOFF_SECONDS[Math.min(state.pullStep, PULL_BACKOFF_SECONDS.length - 1)]! * 1000 * TIME_SCALE;
    state.pullStep++;
    return false;
  }

  private start(pod: Obj, state: ContainerRun, restartPolicy: string, source: EventSource, now: number): void {
    const path = this.fieldPath(state);
    const restarted = state.lastTerminated !== undefined || state.restartAt !== undefined;
    if (restarted) state.restartCount++;
    state.restartAt = undefined;
    const id = runtimeId(pod['metadata']['uid'], state.name, String(state.restartCount), String(now));
    const crashLines = this.cluster.settings.crashes(state.image);
    const completes = !state.sidecar && (state.init || restartPolicy !== 'Always');
    const runFor = crashLines !== undefined ? CRASH_RUN_MS : state.init ? Math.min(INIT_RUN_MS, this.cluster.settings.availableDelayMs) : this.cluster.settings.availableDelayMs;
    state.waiting = undefined;
    state.running = {
      id,
      startedAt: timestamp(now),
      startedMs: now,
      exitAt: crashLines !== undefined || completes ? now + runFor : undefined,
      exitCode: crashLines !== undefined ? 1 : 0,
      logs: crashLines ?? [],
    };
    state.logsById.set(id, crashLines ?? []);
    this.cluster.events.record(pod, path, 'Normal', 'Created', `Created container: ${state.name}`, source);
    this.cluster.events.record(pod, path, 'Normal', 'Started', `Started container ${state.name}`, source);
  }

  private exit(pod: Obj, state: ContainerRun, restartPolicy: string, source: EventSource, now: number): void {
    const instance = state.running!;
    const terminated: Terminated = {
      exitCode: instance.exitCode,
      reason: instance.exitCode === 0 ? 'Completed' : 'Error',
      startedAt: instance.startedAt,
      finishedAt: timestamp(now),
      containerID: `docker://${instance.id}`,
    };
    state.running = undefined;
    const restarts = state.sidecar || restartPolicy === 'Always' || (restartPolicy === 'OnFailure' && instance.exitCode !== 0) || (state.init && instance.exitCode !== 0 && restartPolicy !== 'Never');
    if (!restarts || (state.init && !state.sidecar && instance.exitCode === 0)) {
      state.terminated = terminated;
      return;
    }
    state.lastTerminated = terminated;
    // The first exit restarts at once; after that the kubelet backs off, doubling up to five minutes.
    if (state.crashBackoff === 0) {
      state.crashBackoff = 10;
      state.restartAt = now;
      return;
    }
    const seconds = state.crashBackoff;
    state.crashBackoff = Math.min(seconds * 2, 300);
    state.restartAt = now + seconds * 1000 * TIME_SCALE;
    state.nextLookAt = now + RECHECK_MS;
    state.waiting = { reason: 'CrashLoopBackOff', message: `back-off ${formatDuration(seconds)} restarting failed container=${state.name} pod=${this.podName(pod)}` };
    this.cluster.events.record(pod, this.fieldPath(state), 'Warning', 'BackOff', `Back-off restarting failed container ${state.name} in pod ${this.podName(pod)}`, source);
  }

  private podName(pod: Obj): string {
    return `${pod['metadata']['name']}_${pod['metadata']['namespace']}(${pod['metadata']['uid']})`;
  }

  private allocateIp(node: string): string {
    const index = this.nodeSpec(node).index;
    const next = this.nextIp.get(node) ?? 2;
    this.nextIp.set(node, next >= 254 ? 2 : next + 1);
    return `10.244.${index}.${next}`;
  }

  // ---- status ----

  private containerStatus(state: ContainerRun | undefined, spec: Obj, defaultWaiting: string, now: number): Obj {
    const ready = this.isReady(state, now);
    const status: Obj = { name: spec['name'], image: spec['image'], imageID: '', ready, restartCount: state?.restartCount ?? 0, started: state?.running !== undefined };
    const terminatedJson = (t: Terminated) => ({ exitCode: t.exitCode, reason: t.reason, startedAt: t.startedAt, finishedAt: t.finishedAt, containerID: t.containerID });
    if (state?.running !== undefined) {
      status['state'] = { running: { startedAt: state.running.startedAt } };
      status['containerID'] = `docker://${state.running.id}`;
    } else if (state?.terminated !== undefined) {
      status['state'] = { terminated: terminatedJson(state.terminated) };
      status['containerID'] = state.terminated.containerID;
    } else {
      const waiting = state?.waiting ?? { reason: defaultWaiting };
      status['state'] = { waiting: { reason: waiting.reason, ...(waiting.message !== undefined ? { message: waiting.message } : {}) } };
      if (state?.lastTerminated !== undefined) status['containerID'] = state.lastTerminated.containerID;
    }
    status['lastState'] = state?.lastTerminated !== undefined ? { terminated: terminatedJson(state.lastTerminated) } : {};
    if (state?.running !== undefined || state?.terminated !== undefined || state?.lastTerminated !== undefined) {
      status['imageID'] = imageId(spec['image']);
    }
    return status;
  }

  private isReady(state: ContainerRun | undefined, now: number): boolean {
    if (state === undefined) return false;
    if (state.init && !state.sidecar) return state.terminated?.exitCode === 0;
    return state.running !== undefined && now - state.running.startedMs >= this.cluster.settings.availableDelayMs;
  }

  /** The phase as kubelet's getPhase computes it from the container states. */
  private phase(pod: Obj, run: PodRun): string {
    const spec = pod['spec'] ?? {};
    let pendingInit = 0;
    let failedInit = 0;
    for (const container of (spec['initContainers'] ?? []) as Obj[]) {
      const state = run.containers.get(`init/${container['name']}`)!;
      if (state.sidecar) {
        if (state.running === undefined && state.lastTerminated === undefined) pendingInit++;
        continue;
      }
      if (state.terminated !== undefined) {
        if (state.terminated.exitCode !== 0) failedInit++;
      } else if (state.running === undefined && state.lastTerminated !== undefined && state.lastTerminated.exitCode !== 0) failedInit++;
      else pendingInit++;
    }
    let running = 0;
    let waiting = 0;
    let stopped = 0;
    let succeeded = 0;
    for (const container of (spec['containers'] ?? []) as Obj[]) {
      const state = run.containers.get(`main/${container['name']}`)!;
      if (state.running !== undefined) running++;
      else if (state.terminated !== undefined) {
        stopped++;
        if (state.terminated.exitCode === 0) succeeded++;
      } else if (state.lastTerminated !== undefined) stopped++;
      else waiting++;
    }
    const restartPolicy = spec['restartPolicy'] ?? 'Always';
    if (failedInit > 0 && restartPolicy === 'Never') return 'Failed';
    if (pendingInit > 0 || failedInit > 0 || waiting > 0) return 'Pending';
    if (running > 0) return 'Running';
    if (stopped > 0) {
      if (restartPolicy === 'Always') return 'Running';
      if (stopped === succeeded) return 'Succeeded';
      return restartPolicy === 'Never' ? 'Failed' : 'Running';
    }
    return 'Pending';
  }

  private writeStatus(pod: Obj, run: PodRun, now: number): void {
    const spec = pod['spec'] ?? {};
    const inits = (spec['initContainers'] ?? []) as Obj[];
    const defaultWaiting = inits.length > 0 ? 'PodInitializing' : 'ContainerCreating';
    const initStatuses = inits.map((c) => this.containerStatus(run.containers.get(`init/${c['name']}`), c, defaultWaiting, now));
    const statuses = ((spec['containers'] ?? []) as Obj[]).map((c) => this.containerStatus(run.containers.get(`main/${c['name']}`), c, defaultWaiting, now));
    const phase = this.phase(pod, run);
    const done = phase === 'Succeeded' || phase === 'Failed';
    const previous: Obj = pod['status'] ?? {};
    const previousConditions = (previous['conditions'] ?? []) as Obj[];
    const condition = (type: string, ok: boolean, reason?: string, message?: string): Obj => {
      const before = previousConditions.find((c) => c['type'] === type);
      const status = ok ? 'True' : 'False';
      const since = before?.['status'] === status ? before['lastTransitionTime'] : timestamp(now);
      return { type, status, lastProbeTime: null, lastTransitionTime: since, ...(reason !== undefined ? { reason } : {}), ...(message !== undefined ? { message } : {}) };
    };
    const incomplete = inits.filter((c, i) => {
      const state = run.containers.get(`init/${c['name']}`);
      return state?.sidecar ? state.running === undefined : initStatuses[i]!['state']['terminated']?.['exitCode'] !== 0;
    });
    const sidecars = inits.filter((c) => isRestartableInit(c)).map((c) => c['name'] as string);
    const unready = [...initStatuses.filter((s) => sidecars.includes(s['name']) && !s['ready']), ...statuses.filter((s) => !s['ready'])].map((s) => s['name']);
    const names = (list: string[]) => `[${list.join(' ')}]`;
    const conditions = [
      condition('PodReadyToStartContainers', run.sandboxReady && !done),
      incomplete.length === 0 || done ? condition('Initialized', true, done && incomplete.length > 0 ? 'PodCompleted' : undefined) : condition('Initialized', false, 'ContainersNotInitialized', `containers with incomplete status: ${names(incomplete.map((c) => c['name']))}`),
      done ? condition('Ready', false, 'PodCompleted') : unready.length === 0 ? condition('Ready', true) : condition('Ready', false, 'ContainersNotReady', `containers with unready status: ${names(unready)}`),
      done ? condition('ContainersReady', false, 'PodCompleted') : unready.length === 0 ? condition('ContainersReady', true) : condition('ContainersReady', false, 'ContainersNotReady', `containers with unready status: ${names(unready)}`),
      ...previousConditions.filter((c) => c['type'] === 'PodScheduled'),
    ];
    const ip = hostIp(this.nodeSpec(run.node).index);
    const status: Obj = {
      phase,
      conditions,
      hostIP: ip,
      hostIPs: [{ ip }],
      ...(run.ip !== undefined ? { podIP: run.ip, podIPs: [{ ip: run.ip }] } : {}),
      startTime: run.startTime,
      ...(initStatuses.length > 0 ? { initContainerStatuses: initStatuses } : {}),
      containerStatuses: statuses,
      qosClass: previous['qosClass'] ?? 'BestEffort',
    };
    if (JSON.stringify(status) === JSON.stringify(previous)) return;
    this.cluster.save({ ...structuredClone(pod), status }, 'kubelet', 'status');
    if (done) this.onPodFinished();
  }

  // ---- logs ----

  /** A container's log lines as `kubectl logs` gets them, or the kubelet's refusal. */
  logs(pod: Obj, containerName: string, previous: boolean): { lines: readonly string[] } | { error: string } {
    const name = pod['metadata']['name'];
    const statuses = [...((pod['status']?.['containerStatuses'] ?? []) as Obj[]), ...((pod['status']?.['initContainerStatuses'] ?? []) as Obj[])];
    const status = statuses.find((s) => s['name'] === containerName);
    if (status === undefined) return { error: `container "${containerName}" in pod "${name}" is not available` };
    const run = this.runs.get(pod['metadata']['uid']);
    const state = run === undefined ? undefined : (run.containers.get(`main/${containerName}`) ?? run.containers.get(`init/${containerName}`));
    const linesOf = (containerId: string) => ({ lines: state?.logsById.get(containerId.replace(/^docker:\/\//, '')) ?? [] });
    const last = status['lastState']?.['terminated'];
    if (previous) {
      if (last?.['containerID'] === undefined) return { error: `previous terminated container "${containerName}" in pod "${name}" not found` };
      return linesOf(last['containerID']);
    }
    if (status['state']?.['running'] !== undefined) return linesOf(status['containerID']);
    if (status['state']?.['terminated'] !== undefined) return linesOf(status['state']['terminated']['containerID']);
    if (last?.['containerID'] !== undefined) return linesOf(last['containerID']);
    const reason = status['state']?.['waiting']?.['reason'];
    if (reason === 'ErrImagePull') return { error: `container "${containerName}" in pod "${name}" is waiting to start: image can't be pulled` };
    if (reason === 'ImagePullBackOff') return { error: `container "${containerName}" in pod "${name}" is waiting to start: trying and failing to pull image` };
    if (reason !== undefined) return { error: `container "${containerName}" in pod "${name}" is waiting to start: ${reason}` };
    return { error: `container "${containerName}" in pod "${name}" is waiting to start - no logs yet` };
  }

  /** Why a pod is not running, from its status: for tests that explain what did not become available. */
  static describe(pod: Obj): string {
    const name = `${pod['metadata']['namespace']}/${pod['metadata']['name']}`;
    const scheduled = ((pod['status']?.['conditions'] ?? []) as Obj[]).find((c) => c['type'] === 'PodScheduled');
    if (scheduled?.['status'] === 'False') return `pod ${name}: ${scheduled['reason']}: ${scheduled['message']}`;
    const statuses = [...((pod['status']?.['initContainerStatuses'] ?? []) as Obj[]), ...((pod['status']?.['containerStatuses'] ?? []) as Obj[])];
    const waiting = statuses.filter((s) => s['state']?.['waiting'] !== undefined).map((s) => `${s['name']} ${s['state']['waiting']['reason']}${s['state']['waiting']['message'] ? `: ${s['state']['waiting']['message']}` : ''}`);
    const owner = controllerOf(pod);
    return `pod ${name}${owner ? ` (${owner['kind']} ${owner['name']})` : ''} on ${pod['spec']?.['nodeName'] ?? 'no node'}: ${pod['status']?.['phase'] ?? 'Pending'}${waiting.length > 0 ? `, ${waiting.join('; ')}` : ''}`;
  }
}

