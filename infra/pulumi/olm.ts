import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { INSTALLED_BY_LABEL } from './cluster-checks';

export interface OlmArgs {
  /** OLM's upstream Helm chart (deploy/chart of the operator-lifecycle-manager module; `tools/ensure.sh olm` copies it to <bin>/chart). */
  readonly chartPath: string;
  /** OLM's namespace, also the global catalog namespace. Default `olm`, as OLM's release manifests. */
  readonly namespace?: string;
  /** Namespace of the global OperatorGroup. Default `operators`. */
  readonly operatorNamespace?: string;
  /**
   * Run packageserver (the aggregated `packagemanifests` API behind `kubectl
   * get packagemanifests` and consoles). Subscriptions do not need it. Default true.
   */
  readonly packageServer?: boolean;
  /** OLM image tag; default: the module version recorded beside the chart (<bin>/VERSIONS), e.g. v0.46.0. */
  readonly version?: string;
  /** Value stamped into the `flights.com/installed-by` label of every object, e.g. `<project>.<stack>`. */
  readonly installedBy: string;
}

interface ChartObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; labels?: Record<string, string> };
}

/** How a v3 Chart leaves an object out: an empty List registers nothing. */
function leaveOut(obj: ChartObject): void {
  obj.apiVersion = 'v1';
  obj.kind = 'List';
}

/** OLM's version from the VERSIONS file tools/olm/build.sh writes next to the chart, if there. */
function olmVersionBeside(chartPath: string): string | undefined {
  const file = join(dirname(chartPath), 'VERSIONS');
  if (!existsSync(file)) return undefined;
  return /^operator-lifecycle-manager=(\S+)$/m.exec(readFileSync(file, 'utf8'))?.[1];
}

/**
 * Operator Lifecycle Manager itself, from its upstream Helm chart rendered by
 * the Kubernetes provider (no download): OLM's CRDs, the olm and catalog
 * operators, their RBAC, namespaces and the global OperatorGroup. Objects are
 * applied server-side (the ClusterServiceVersion CRD is too large for a
 * client-side last-applied annotation). The community catalog the chart
 * would add (an image from quay.io) is left out.
 */
export class Olm extends pulumi.ComponentResource {
  /** OLM's namespace (global catalog namespace). */
  public readonly namespace: string;
  public readonly operatorNamespace: string;
  /** OLM's namespaces and CRDs, created before anything else of OLM. */
  public readonly foundation: k8s.helm.v3.Chart;
  /** What the operators need: RBAC, ServiceAccounts, OperatorGroups, OLMConfig, packageserver's CSV. */
  public readonly chart: k8s.helm.v3.Chart;
  /** The olm and catalog operators' Deployments, last (the provider waits until they are Available). */
  public readonly operators: k8s.helm.v3.Chart;
  /**
   * Every object of the chart, once created: what to depend on. A plain
   * `dependsOn: olm` is not enough: the chart registers its objects only after
   * the provider rendered it, so a dependent could start before OLM's CRDs.
   */
  public readonly ready: pulumi.Output<pulumi.Resource[]>;

  constructor(name: string, args: OlmArgs, opts?: pulumi.ComponentResourceOptions) {
    super('flights:index:Olm', name, {}, opts);
    if (!existsSync(join(args.chartPath, 'Chart.yaml'))) throw new Error(`Olm: ${args.chartPath} is not a Helm chart directory (no Chart.yaml)`);
    this.namespace = args.namespace ?? 'olm';
    this.operatorNamespace = args.operatorNamespace ?? 'operators';
    const version = args.version ?? olmVersionBeside(args.chartPath);
    const image = version ? { ref: `quay.io/operator-framework/olm:${version}`, pullPolicy: 'IfNotPresent' } : undefined;
    const packageServer = args.packageServer ?? true;

    const values = {
      namespace: this.namespace,
      catalog_namespace: this.namespace,
      operator_namespace: this.operatorNamespace,
      // Anything but "upstream": no operatorhub.io CatalogSource pulling an image from the internet.
      installType: 'none',
      ...(image ? { olm: { image }, catalog: { image }, package: { image } } : {}),
    };
    const label = (obj: ChartObject) => {
      if (obj.metadata) obj.metadata.labels = { ...obj.metadata.labels, [INSTALLED_BY_LABEL]: args.installedBy };
    };
    // Three passes over the one chart, each waiting for the one before. Created
    // all at once, objects race what they need: OLM's custom resources their
    // CRDs, namespaced objects their namespace, the Deployments (which the
    // provider awaits until Available) their ServiceAccount. The engine runs
    // only 4 operations per CPU at once, so on a small machine retries and
    // awaits held every slot while what they waited for queued behind them:
    // `pulumi up` failed. Destroy runs the stages in reverse, the right order.
    const stage = (obj: ChartObject) => (obj.kind === 'Namespace' || obj.kind === 'CustomResourceDefinition' ? 0 : obj.kind === 'Deployment' ? 2 : 1);
    const charts: k8s.helm.v3.Chart[] = [];
    for (const [i, suffix] of ['-crds', '', '-operators'].entries()) {
      const before = charts[i - 1];
      charts.push(
        new k8s.helm.v3.Chart(
          `${name}${suffix}`,
          {
            path: args.chartPath,
            values,
            transformations: [
              (obj: ChartObject, childOpts: pulumi.CustomResourceOptions) => {
                if (stage(obj) !== i || (!packageServer && obj.kind === 'ClusterServiceVersion' && obj.metadata?.name === 'packageserver')) {
                  leaveOut(obj);
                  return;
                }
                label(obj);
                if (before) childOpts.dependsOn = before.ready;
              },
            ],
          },
          { parent: this },
        ),
      );
    }
    [this.foundation, this.chart, this.operators] = charts;
    this.ready = pulumi.all(charts.map((c) => c.ready)).apply((r) => r.flat());
    this.registerOutputs({ namespace: this.namespace, operatorNamespace: this.operatorNamespace });
  }
}
