// The job controller: pods <job>-<5 random characters> up to `parallelism` at a time until `completions` of them
// Succeeded (the Job then Complete, with SuccessCriteriaMet before it, as v1.32 writes them), or until more than
// `backoffLimit` Failed (the Job then Failed, BackoffLimitExceeded). The API server gives a Job its selector and its
// template the controller-uid and job-name labels when it is created (admitJob).

import { byController, timestamp, type Cluster, type Obj } from './cluster.js';
import { PodMaker, simplePodEvents } from './pod-maker.js';
import { isPodReady, podFromTemplate } from './pods.js';

const EVENTS = simplePodEvents('job-controller');

/** What the API server sets on a new Job: its selector and its template's labels. */
export function admitJob(job: Obj): void {
  const uid = job['metadata']['uid'];
  const name = job['metadata']['name'];
  const spec: Obj = job['spec'] ?? {};
  if (spec['manualSelector'] === true) return;
  const labels = { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name };
  spec['selector'] = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
  spec['template'] = { ...(spec['template'] ?? {}), metadata: { ...(spec['template']?.['metadata'] ?? {}) } };
  spec['template']['metadata']['labels'] = { ...(spec['template']['metadata']['labels'] ?? {}), ...labels };
  spec['backoffLimit'] ??= 6;
  spec['completions'] ??= 1;
  spec['parallelism'] ??= 1;
  spec['completionMode'] ??= 'NonIndexed';
  spec['suspend'] ??= false;
  job['spec'] = spec;
}

const finished = (job: Obj): boolean => ((job['status']?.['conditions'] ?? []) as Obj[]).some((c) => (c['type'] === 'Complete' || c['type'] === 'Failed') && c['status'] === 'True');

export class JobController {
  private readonly cluster: Cluster;
  private readonly pods: PodMaker;

  constructor(cluster: Cluster) {
    this.cluster = cluster;
    this.pods = new PodMaker(cluster);
  }

  sync(now: number): void {
    const podsOf = byController(this.cluster.list('Pod'));
    const live = new Set<string>();
    for (const job of this.cluster.list('Job')) {
      live.add(job['metadata']['uid']);
      this.syncJob(job, podsOf.get(job['metadata']['uid']) ?? [], now);
    }
    this.pods.forget(live);
  }

  private syncJob(job: Obj, pods: readonly Obj[], now: number): void {
    const spec = job['spec'] ?? {};
    const active = pods.filter((p) => p['status']?.['phase'] !== 'Succeeded' && p['status']?.['phase'] !== 'Failed');
    const succeeded = pods.filter((p) => p['status']?.['phase'] === 'Succeeded').length;
    const failed = pods.filter((p) => p['status']?.['phase'] === 'Failed').length;
    const completions: number = spec['completions'] ?? 1;
    const parallelism: number = spec['parallelism'] ?? 1;
    const stamp = timestamp(now);
    const status: Obj = structuredClone(job['status'] ?? {});
    status['startTime'] ??= stamp;
    const conditions = (status['conditions'] ?? []) as Obj[];
    const condition = (type: string, reason: string, message: string) => ({ type, status: 'True', lastProbeTime: stamp, lastTransitionTime: stamp, reason, message });

    if (!finished(job) && spec['suspend'] !== true) {
      if (succeeded >= completions) {
        conditions.push(condition('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods'), condition('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods'));
        status['completionTime'] = stamp;
        this.cluster.events.record(job, undefined, 'Normal', 'Completed', 'Job completed', { component: 'job-controller' });
      } else if (failed > (spec['backoffLimit'] ?? 6)) {
        conditions.push(condition('FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'), condition('Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit'));
        this.cluster.events.record(job, undefined, 'Warning', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', { component: 'job-controller' });
        for (const pod of active) this.pods.delete(job, pod, EVENTS);
      } else {
        const wanted = Math.min(parallelism, completions - succeeded);
        if (active.length < wanted && this.pods.mayCreate(job, now)) {
          for (let i = active.length; i < wanted; i++) {
            const pod = podFromTemplate(spec['template'] ?? {}, job, { generateName: `${job['metadata']['name']}-` });
            if (this.pods.create(job, pod, EVENTS, now) === undefined) break;
          }
        }
      }
    }
    status['conditions'] = conditions;
    if (conditions.length === 0) delete status['conditions'];
    const stillActive = finished({ status }) ? 0 : active.length;
    const counts: Obj = { active: stillActive, succeeded, failed, ready: active.filter(isPodReady).length, terminating: 0 };
    for (const [field, value] of Object.entries(counts)) {
      if (value === 0 && field !== 'ready' && field !== 'terminating') delete status[field];
      else status[field] = value;
    }
    status['uncountedTerminatedPods'] ??= {};
    if (JSON.stringify(status) === JSON.stringify(job['status'] ?? {})) return;
    this.cluster.save({ ...structuredClone(job), status }, 'kube-controller-manager', 'status');
  }
}
