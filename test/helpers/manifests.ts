// Small Kubernetes objects as YAML text, for tests that write a release of their own.

/** A Deployment; `containers` is the YAML list under `spec.template.spec.containers`, each item indented six spaces. */
export function deploymentYaml(namespace: string, name: string, containers: string, extraPodSpec = ''): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec:
      containers:
${containers}${extraPodSpec}`;
}

/** A namespaced CRD of one served, stored version `v1` that keeps any field (a real API server's minimum). */
export function crdYaml(group: string, kind: string, plural: string): string {
  return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${plural}.${group}}
spec:
  group: ${group}
  names: {kind: ${kind}, plural: ${plural}}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
`;
}
