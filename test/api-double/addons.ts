// What runs in a cluster besides the core controllers, as far as installs depend on it:
// - in every namespace, the ServiceAccount "default" (serviceaccount controller) and the ConfigMap kube-root-ca.crt
//   (root-ca-cert-publisher), which pods need before they can be created or started;
// - cert-manager: once its Deployments are Available, each Certificate's Secret is issued and the Certificate Ready;
// - istiod: once Available, it publishes its root certificate as ConfigMap istio-ca-root-cert in every namespace.

import type { Cluster, Obj } from './cluster.js';

const PEM = '-----BEGIN CERTIFICATE-----\nZG91Ymxl\n-----END CERTIFICATE-----\n';

export function reconcileNamespaceDefaults(cluster: Cluster): void {
  for (const namespace of cluster.list('Namespace')) {
    const name = namespace['metadata']['name'];
    if (namespace['status']?.['phase'] === 'Terminating') continue;
    if (cluster.get('ServiceAccount', name, 'default') === undefined) {
      cluster.save({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: name } }, 'kube-controller-manager');
    }
    if (cluster.get('ConfigMap', name, 'kube-root-ca.crt') === undefined) {
      cluster.save(
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt', namespace: name, annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } }, data: { 'ca.crt': PEM } },
        'kube-controller-manager',
      );
    }
  }
}

export function reconcileIstioRootCert(cluster: Cluster): void {
  const istiod = cluster.get('Deployment', 'istio-system', 'istiod');
  if (istiod === undefined || !cluster.isAvailable(istiod)) return;
  for (const namespace of cluster.list('Namespace')) {
    const name = namespace['metadata']['name'];
    if (cluster.get('ConfigMap', name, 'istio-ca-root-cert') !== undefined) continue;
    cluster.save({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio-ca-root-cert', namespace: name }, data: { 'root-cert.pem': 'double' } }, 'pilot-discovery');
  }
}

export function reconcileCertificates(cluster: Cluster): void {
  const certManager = cluster.list('Deployment').filter((d) => d['metadata']['namespace'] === 'cert-manager');
  if (certManager.length === 0 || !certManager.every((d) => cluster.isAvailable(d))) return;
  for (const certificate of cluster.list('Certificate').filter((c) => String(c['apiVersion']).startsWith('cert-manager.io/'))) {
    const namespace = certificate['metadata']['namespace'];
    const secretName = certificate['spec']?.['secretName'];
    if (secretName === undefined || cluster.get('Secret', namespace, secretName) !== undefined) continue;
    const pem = Buffer.from(PEM).toString('base64');
    const secret: Obj = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: secretName, namespace }, data: { 'tls.crt': pem, 'tls.key': pem, 'ca.crt': pem } };
    cluster.save(secret, 'cert-manager-certificates-issuing');
    cluster.save({ ...structuredClone(certificate), status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready' }] } }, 'cert-manager-certificates-readiness', 'status');
  }
}
