/**
 * client-node's generated, typed API clients with request metrics. Kept apart
 * from client.ts: importing the package index loads the whole generated API
 * (docs/scale.md, Memory), which the controller itself never uses; tests and
 * tools that want the typed clients import this module.
 */
import * as k8s from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { restClientMetrics } from './metrics';

/**
 * kc.makeApiClient, but every request is counted in rest_client_requests_total.
 * Use for the generated typed APIs (CoreV1Api, CustomObjectsApi, ...).
 */
export function makeInstrumentedApiClient<T>(
  kc: k8s.KubeConfig,
  apiClientType: new (config: k8s.Configuration) => T,
  registry: Registry,
): T {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const host = new URL(cluster.server).host;
  const metrics = restClientMetrics(registry);
  const inner = new k8s.IsomorphicFetchHttpLibrary();
  const httpApi = k8s.wrapHttpLibrary({
    async send(ctx: k8s.RequestContext) {
      const start = performance.now();
      const method = ctx.getHttpMethod();
      try {
        const res = await inner.send(ctx).toPromise();
        metrics.observe(method, host, res.httpStatusCode, (performance.now() - start) / 1000);
        return res;
      } catch (err) {
        metrics.observe(method, host, '<error>', (performance.now() - start) / 1000);
        throw err;
      }
    },
  });
  const config = k8s.createConfiguration({
    baseServer: new k8s.ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    httpApi,
  });
  return new apiClientType(config);
}

/**
 * Per-call options that make a generated client-node PATCH send a JSON merge
 * patch. Verified in 2.0.1: generated patch methods default the Content-Type
 * to application/json-patch+json and middleware `pre` runs after that, so
 * this header wins. Usage:
 *   api.patchNamespacedCustomObjectStatus({...}, mergePatchOptions())
 */
export function mergePatchOptions(): k8s.ConfigurationOptions {
  return k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
}
