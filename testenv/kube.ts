/**
 * Helpers for integration tests against the control plane that
 * testenv/jest-global-setup.ts started (or the one FLIGHT_KUBECONFIG names).
 *
 *   const kc = loadKubeConfig();
 *   await applyManifests(kc, [deployment], { namespace: ns.name });
 *   await waitForDeploymentAvailable(kc, ns.name, 'web');
 *   const { stdout } = await kubectl(['get', 'pods', '-n', ns.name]);
 */
import * as k8s from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import https from 'node:https';

/** Path of the admin kubeconfig; a clear failure when the global setup did not run. */
export function kubeconfigPath(): string {
  const p = process.env.FLIGHT_KUBECONFIG;
  if (!p) {
    throw new Error(
      'testenv: FLIGHT_KUBECONFIG is not set. Run integration tests with `npm run jest -- --selectProjects integration` ' +
        '(its globalSetup starts the control plane), or export FLIGHT_KUBECONFIG to reuse one from `npm run cluster -- up`.',
    );
  }
  if (!existsSync(p)) throw new Error(`testenv: FLIGHT_KUBECONFIG=${p} does not exist`);
  return p;
}

export function loadKubeConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

export function kubectlPath(): string {
  const p = process.env.FLIGHT_KUBECTL;
  if (!p || !existsSync(p)) {
    throw new Error(`testenv: kubectl not found (FLIGHT_KUBECTL=${p ?? 'unset'}); the jest global setup resolves it with the other binaries`);
  }
  return p;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the kubectl built with the control plane against the test cluster.
 * Rejects on a non-zero exit unless `check: false`.
 */
export function kubectl(args: string[], opts: { input?: string; check?: boolean; timeoutMs?: number } = {}): Promise<KubectlResult> {
  const bin = kubectlPath();
  const env = { ...process.env, KUBECONFIG: kubeconfigPath() };
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      const r = { code: code ?? (sig ? 128 : 1), stdout, stderr };
      if (r.code !== 0 && opts.check !== false) {
        reject(new Error(`kubectl ${args.join(' ')} exited ${code ?? sig}:\n${stderr.trim()}`));
      } else resolve(r);
    });
    // A kubectl that exits without reading stdin (most commands) breaks the pipe; its exit, above, is the result.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** GET a raw API path (/version, /readyz?verbose, /metrics ...) with the kubeconfig's credentials. */
export async function rawGet(kc: k8s.KubeConfig, apiPath: string): Promise<{ status: number; body: string }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('testenv: kubeconfig has no current cluster');
  const url = new URL(apiPath, cluster.server);
  const opts: https.RequestOptions = { method: 'GET', agent: false, timeout: 10_000 };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = https.request(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: GET ${apiPath}`)));
    req.on('error', reject);
    req.end();
  });
}

export interface ApplyOptions {
  /** Default namespace for namespaced objects that set none. */
  namespace?: string;
  fieldManager?: string;
  /** Take over fields owned by other managers (default true, as `kubectl apply --server-side --force-conflicts`). */
  force?: boolean;
}

/** A copy of kc whose current context defaults to namespace (KubernetesObjectApi fills it into namespaced objects). */
export function withNamespace(kc: k8s.KubeConfig, namespace: string | undefined): k8s.KubeConfig {
  if (!namespace) return kc;
  const copy = new k8s.KubeConfig();
  copy.loadFromOptions({
    clusters: kc.clusters,
    users: kc.users,
    contexts: kc.contexts.map((c) => (c.name === kc.currentContext ? { ...c, namespace } : c)),
    currentContext: kc.currentContext,
  });
  return copy;
}

/**
 * Server-side apply of each object, in order (put CRDs and Namespaces
 * first: a custom resource right after its CRD is retried until the API
 * serves its kind). Returns the objects as the server stored them.
 */
export async function applyManifests(kc: k8s.KubeConfig, objects: k8s.KubernetesObject[], opts: ApplyOptions = {}): Promise<k8s.KubernetesObject[]> {
  const nkc = withNamespace(kc, opts.namespace);
  let client = k8s.KubernetesObjectApi.makeApiClient(nkc);
  const out: k8s.KubernetesObject[] = [];
  for (const o of objects) {
    const applied = await waitFor(
      `server-side apply of ${o.kind} ${o.metadata?.name}`,
      async () => {
        try {
          return await client.patch(
            structuredClone(o),
            undefined,
            undefined,
            opts.fieldManager ?? 'flight-operator-tests',
            opts.force ?? true,
            k8s.PatchStrategy.ServerSideApply,
          );
        } catch (e) {
          // A kind the API does not serve yet (CRD just created): rediscover and retry.
          if (/Unrecognized API version and kind/.test((e as Error).message)) {
            client = k8s.KubernetesObjectApi.makeApiClient(nkc);
            throw e;
          }
          throw new Fatal(e);
        }
      },
      { timeoutMs: 30_000, intervalMs: 500, rethrow: Fatal },
    );
    out.push(applied);
  }
  return out;
}

/** Deletes objects (reverse order), ignoring those already gone. */
export async function deleteManifests(kc: k8s.KubeConfig, objects: k8s.KubernetesObject[], opts: { namespace?: string } = {}): Promise<void> {
  const client = k8s.KubernetesObjectApi.makeApiClient(withNamespace(kc, opts.namespace));
  for (const o of [...objects].reverse()) {
    try {
      await client.delete(structuredClone(o), undefined, undefined, undefined, undefined, 'Background');
    } catch (e) {
      if (statusCode(e) !== 404 && !/Unrecognized API version and kind/.test((e as Error).message)) throw e;
    }
  }
}

/** Wraps an error that waitFor must not retry. */
class Fatal extends Error {
  constructor(readonly cause: unknown) {
    super((cause as Error)?.message ?? String(cause));
  }
}

/** HTTP status of a client-node ApiException (undefined for other errors). */
export function statusCode(e: unknown): number | undefined {
  return e instanceof k8s.ApiException ? e.code : (e as { code?: number })?.code;
}

/** Polls fn until it returns a truthy value; fails with `description` and the last error after timeoutMs. */
export async function waitFor<T>(
  description: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs?: number; intervalMs?: number; rethrow?: new (...args: never[]) => { cause?: unknown } } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (opts.rethrow && e instanceof opts.rethrow) throw e.cause;
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${description}${last ? `: ${(last as Error).message ?? String(last)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}

/** Waits until a Deployment reports condition Available=True for its current generation. */
export async function waitForDeploymentAvailable(kc: k8s.KubeConfig, namespace: string, name: string, timeoutMs = 90_000): Promise<k8s.V1Deployment> {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  let last: k8s.V1Deployment | undefined;
  try {
    return await waitFor(
      `Deployment ${namespace}/${name} to be Available`,
      async () => {
        last = await apps.readNamespacedDeployment({ name, namespace });
        const st = last.status;
        const available = st?.conditions?.find((c) => c.type === 'Available')?.status === 'True';
        const current = (st?.observedGeneration ?? 0) >= (last.metadata?.generation ?? 1);
        const replicas = last.spec?.replicas ?? 1;
        return available && current && (st?.availableReplicas ?? 0) >= replicas ? last : undefined;
      },
      { timeoutMs },
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}\nlast status: ${JSON.stringify(last?.status ?? null)}`);
  }
}

export { k8s };
