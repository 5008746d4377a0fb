/**
 * What the program asks the cluster and the catalog directly, outside the
 * provider: whether OLM is already there, whether the catalog answers (so a
 * bad address fails `preview`, not an `up` that waits forever), and the wait
 * for OLM to finish installing the CSV, which no Pulumi resource of ours
 * represents.
 */
import * as k8s from '@kubernetes/client-node';
import net from 'node:net';
import { INSTALLED_BY_LABEL, OLM_MARKER_CRD } from './olm';
import { ClusterAccess, StackConfigError } from './stack-config';


function kubeConfig(cluster: ClusterAccess): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  if (cluster.context) kc.setCurrentContext(cluster.context);
  return kc;
}

/** Resolves when something accepts a TCP connection at host:port within timeoutMs; otherwise a StackConfigError naming the key. */
export function checkCatalogAnswers(address: string, timeoutMs = 5000): Promise<void> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const fail = (why: string) => {
      socket.destroy();
      reject(new StackConfigError('catalogAddress', `the catalog at ${address} does not answer (${why}); start it (e.g. opm serve) or fix the address`));
    };
    socket.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs / 1000}s`));
    socket.once('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
  });
}

/**
 * `absent`: no OLM; `ours`: OLM that this stack (by its label value) installed
 * earlier and keeps managing; `foreign`: OLM the cluster already had.
 */
export async function olmPresence(cluster: ClusterAccess, installedBy: string): Promise<'absent' | 'ours' | 'foreign'> {
  const api = kubeConfig(cluster).makeApiClient(k8s.ApiextensionsV1Api);
  try {
    const crd = await api.readCustomResourceDefinition({ name: OLM_MARKER_CRD });
    return crd.metadata?.labels?.[INSTALLED_BY_LABEL] === installedBy ? 'ours' : 'foreign';
  } catch (e) {
    if ((e as { code?: number }).code === 404) return 'absent';
    throw new Error(`cannot read CRD ${OLM_MARKER_CRD} to find out whether the cluster has OLM: ${(e as Error).message}`);
  }
}

export interface InstalledCsv {
  name: string;
  phase: string;
}

/**
 * Waits until the Subscription names its installed CSV and that CSV reaches
 * Succeeded. A CSV in phase Failed, or a Subscription whose InstallPlan
 * failed, ends the wait at once with OLM's reason.
 */
export async function waitForCsvSucceeded(
  cluster: ClusterAccess,
  namespace: string,
  subscription: string,
  timeoutMs = 300_000,
): Promise<InstalledCsv> {
  const api = kubeConfig(cluster).makeApiClient(k8s.CustomObjectsApi);
  const deadline = Date.now() + timeoutMs;
  let last = 'the Subscription has no installed CSV yet';
  while (Date.now() < deadline) {
    const sub = (await api.getNamespacedCustomObject({ group: 'operators.coreos.com', version: 'v1alpha1', namespace, plural: 'subscriptions', name: subscription })) as {
      status?: { installedCSV?: string; currentCSV?: string; state?: string; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
    };
    // OLM gave up on the InstallPlan (e.g. a bundle kind the cluster does not
    // serve): no CSV will ever succeed, so say OLM's reason now, not at the timeout.
    const failed = sub.status?.conditions?.find((c) => c.type === 'InstallPlanFailed' && c.status === 'True');
    if (failed) {
      throw new Error(`Subscription ${namespace}/${subscription}: OLM failed to install ${sub.status?.currentCSV ?? 'the operator'} (${failed.reason ?? 'InstallPlanFailed'}): ${failed.message ?? ''}`);
    }
    const name = sub.status?.installedCSV;
    if (name) {
      try {
        const csv = (await api.getNamespacedCustomObject({ group: 'operators.coreos.com', version: 'v1alpha1', namespace, plural: 'clusterserviceversions', name })) as {
          status?: { phase?: string; reason?: string; message?: string };
        };
        const phase = csv.status?.phase ?? 'None';
        if (phase === 'Succeeded') return { name, phase };
        if (phase === 'Failed') throw new Error(`ClusterServiceVersion ${namespace}/${name} Failed: ${csv.status?.reason}: ${csv.status?.message}`);
        last = `CSV ${name} is ${phase} (${csv.status?.reason ?? ''})`;
      } catch (e) {
        if ((e as { code?: number }).code !== 404) throw e;
        last = `CSV ${name} does not exist yet`;
      }
    } else {
      last = `Subscription ${namespace}/${subscription}: state ${sub.status?.state ?? 'none'}, current CSV ${sub.status?.currentCSV ?? 'none'}`;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`OLM did not install the operator within ${timeoutMs / 1000}s: ${last}`);
}
