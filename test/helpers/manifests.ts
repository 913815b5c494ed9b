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
