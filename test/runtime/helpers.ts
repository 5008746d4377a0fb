/** Shared bits for the runtime integration tests. */
import * as k8s from '@kubernetes/client-node';

export const configmaps = { group: '', version: 'v1', plural: 'configmaps' };
export const leases = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' };

/** The same credentials, but talking to `https://127.0.0.1:<port>` (a TcpProxy). */
export function kubeConfigVia(kc: k8s.KubeConfig, port: number): k8s.KubeConfig {
  const out = new k8s.KubeConfig();
  out.loadFromOptions({
    clusters: kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${port}` })),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return out;
}

export async function eventually(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await cond()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
