// The built-in API resources the double serves, as a real v1.32 API server lists them in discovery.

export interface ApiResource {
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
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

export const BUILTIN_RESOURCES: readonly ApiResource[] = [
  core('Namespace', 'namespaces', false, ['ns']),
  core('Node', 'nodes', false, ['no']),
  core('ServiceAccount', 'serviceaccounts', true),
  core('ConfigMap', 'configmaps', true, ['cm']),
  core('Secret', 'secrets', true),
  core('Service', 'services', true, ['svc']),
  core('Endpoints', 'endpoints', true, ['ep']),
  core('Pod', 'pods', true),
  core('PersistentVolumeClaim', 'persistentvolumeclaims', true),
  core('PersistentVolume', 'persistentvolumes', false),
  core('LimitRange', 'limitranges', true),
  core('ResourceQuota', 'resourcequotas', true),
  of('apps', 'v1', 'Deployment', 'deployments', true, ['deploy']),
  of('apps', 'v1', 'StatefulSet', 'statefulsets', true),
  of('apps', 'v1', 'DaemonSet', 'daemonsets', true),
  of('apps', 'v1', 'ReplicaSet', 'replicasets', true),
  of('batch', 'v1', 'Job', 'jobs', true),
  of('batch', 'v1', 'CronJob', 'cronjobs', true),
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
  of('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', true),
  of('networking.k8s.io', 'v1', 'Ingress', 'ingresses', true),
  of('networking.k8s.io', 'v1', 'IngressClass', 'ingressclasses', false),
  of('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true),
  of('autoscaling', 'v2', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true),
  of('autoscaling', 'v1', 'HorizontalPodAutoscaler', 'horizontalpodautoscalers', true),
  of('scheduling.k8s.io', 'v1', 'PriorityClass', 'priorityclasses', false),
  of('storage.k8s.io', 'v1', 'StorageClass', 'storageclasses', false),
  of('storage.k8s.io', 'v1', 'CSIDriver', 'csidrivers', false),
  of('coordination.k8s.io', 'v1', 'Lease', 'leases', true),
];
