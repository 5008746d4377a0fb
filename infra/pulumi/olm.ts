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
  public readonly chart: k8s.helm.v3.Chart;
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

    this.chart = new k8s.helm.v3.Chart(
      name,
      {
        path: args.chartPath,
        values: {
          namespace: this.namespace,
          catalog_namespace: this.namespace,
          operator_namespace: this.operatorNamespace,
          // Anything but "upstream": no operatorhub.io CatalogSource pulling an image from the internet.
          installType: 'none',
          ...(image ? { olm: { image }, catalog: { image }, package: { image } } : {}),
        },
        transformations: [
          (obj: { apiVersion?: string; kind?: string; metadata?: { name?: string; labels?: Record<string, string> } }) => {
            if (!packageServer && obj.kind === 'ClusterServiceVersion' && obj.metadata?.name === 'packageserver') {
              // How a v3 Chart leaves an object out: an empty List registers nothing.
              obj.apiVersion = 'v1';
              obj.kind = 'List';
              return;
            }
            if (obj.metadata) obj.metadata.labels = { ...obj.metadata.labels, [INSTALLED_BY_LABEL]: args.installedBy };
          },
        ],
      },
      { parent: this },
    );
    this.ready = this.chart.ready;
    this.registerOutputs({ namespace: this.namespace, operatorNamespace: this.operatorNamespace });
  }
}
