// The built-in API resources the double serves, as a real v1.32 API server lists them in discovery.

export interface ApiResource {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Subresources besides status, with their verbs. */
  subresources?: Record<string, string[]>;
}

const core = (kind: string, plural: string, namespaced: boolean, shortNames: string[] = []): ApiResource => ({ group: '', version: 'v1', kind, plural, namespaced, shortNames });
const of = (group: string, version: string, kind: string, plural: string, namespaced: boolean, shortNames: string[] = []): ApiResource => ({
  group,
  version,
  kind,
  plural,
  namespaced,
  shortNames,
});

const SCALE = { scale: ['get', 'patch', 'update'] };
const withSubresources = (resource: ApiResource, subresources: Record<string, string[]>): ApiResource => ({ ...resource, subresources });

export const BUILTIN_RESOURCES: readonly ApiResource[] = [
  core('Namespace', 'namespaces', false, ['ns']),
  core('Node', 'nodes', false, ['no']),
  core('ServiceAccount', 'serviceaccounts', true, ['sa']),
  core('ConfigMap', 'configmaps', true, ['cm']),
  core('Secret', 'secrets', true),
  core('Service', 'services', true, ['svc']),
  core('Endpoints', 'endpoints', true, ['ep']),
  withSubresources(core('Pod', 'pods', true, ['po']), { log: ['get'] }),
  core('Event', 'events', true, ['ev']),
  core('PersistentVolumeClaim', 'persistentvolumeclaims', true, ['pvc']),
  core('PersistentVolume', 'persistentvolumes', false, ['pv']),
  core('LimitRange', 'limitranges', true, ['limits']),
  core('ResourceQuota', 'resourcequotas', true, ['quota']),
  withSubresources(of('apps', 'v1', 'Deployment', 'deployments', true, ['deploy']), SCALE),
  withSubresources(of('apps', 'v1', 'StatefulSet', 'statefulsets', true, ['sts']), SCALE),
  of('apps', 'v1', 'DaemonSet', 'daemonsets', true, ['ds']),
  withSubresources(of('apps', 'v1', 'ReplicaSet', 'replicasets', true, ['rs']), SCALE),
  of('batch', 'v1', 'Job', 'jobs', true),
  of('batch', 'v1', 'CronJob', 'cronjobs', true, ['cj']),
  of('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
  of('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
  of('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
  of('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  of('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, ['crd', 'crds']),
  of('admissionregistration.k8s.io', 'v1', 'MutatingWebhookConfiguration', 'mutatingwebhookconfigurations', false),
  of('admissionregistration.k8s.io', 'v1', 'ValidatingWebhookConfiguration', 'validatingwebhookconfigurations', false),
  of('admissionregistration.k8s.io', 'v1', 'ValidatingAdmissionPolicy', 'validatingadmissionpolicies', false),
  of('admissionregistration.k8s.io', 'v1', 'ValidatingAdmissionPolicyBinding', 'validatingadmissionpolicybindings', false),
  of('apiregistration.k8s.io', 'v1', 'APIService', 'apiservices', false),
  of('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', true, ['netpol']),
  of('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true, ['ing']),
  of('networking.k8s.io', 'v1', 'IngressClass', 'ingressclasses', false),
  of('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, ['pdb']),
  of('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, ['hpa']),
  of('autoscaling', 'v1', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true, ['hpa']),
  of('scheduling.k8s.io', 'v1', 'PriorityClass', 'priorityclasses', false, ['pc']),
  of('storage.k8s.io', 'v1', 'StorageClass', 'storageclasses', false, ['sc']),
  of('storage.k8s.io', 'v1', 'CSIDriver', 'csidrivers', false),
  of('coordination.k8s.io', 'v1', 'Lease', 'leases', true),
];
