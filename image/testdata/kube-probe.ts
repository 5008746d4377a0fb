/**
 * Test entry point, bundled exactly as the controller is (bundleController with
 * the same stand-ins, image/bundle-slim.ts) by image/bundle-kubeconfig.test.ts
 * and test/runtime/kubeconfig.test.ts: the controller's kubeconfig loading,
 * authentication, request transport and watch, without the rest of the controller.
 *
 *   node probe.js [--in-cluster <path prefix>] [--watch <api path>] [--interval <ms>] [--auth-ttl <ms>]
 *
 * Loads the kubeconfig as the controller does (KUBECONFIG / ~/.kube/config, or
 * with --in-cluster the ServiceAccount files under the prefix), then asks the
 * API server who it is (a SelfSubjectReview) every --interval ms and prints one
 * JSON line per answer: {"user": name} or {"error": message, "code": status}.
 * With --watch it also prints {"event": type, "name": name} per watch event.
 */
import { KubeClient } from '../../controller/runtime/client';
import { KubeConfig } from '../../controller/runtime/client-node';
import { watchStream } from '../../controller/runtime/watch';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const kc = new KubeConfig();
  const prefix = arg('in-cluster');
  if (prefix !== undefined) kc.loadFromCluster(prefix);
  else kc.loadFromDefault();
  const client = KubeClient.fromKubeConfig(kc, { authTtlMs: Number(arg('auth-ttl') ?? 5000) });
  const watchPath = arg('watch');
  if (watchPath) {
    await watchStream(
      kc,
      watchPath,
      {},
      (type, obj) => print({ event: type, name: obj?.metadata?.name }),
      (err) => print({ watchEnded: err ? String((err as Error).message ?? err) : 'clean' }),
      { idleTimeoutMs: 60_000 },
    );
  }
  const interval = Number(arg('interval') ?? 200);
  for (;;) {
    try {
      const review = await client.request<{ status?: { userInfo?: { username?: string } } }>({
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
      print({ user: review.status?.userInfo?.username });
    } catch (err) {
      print({ error: String((err as Error).message ?? err), code: (err as { code?: number }).code });
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

main().catch((err) => {
  print({ fatal: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
