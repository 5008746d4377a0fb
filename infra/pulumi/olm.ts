import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Label on every object the Olm component creates: tells "OLM we installed" from "OLM the cluster came with". */
export const INSTALLED_BY_LABEL = 'flights.com/installed-by';
/** The CRD whose presence means "this cluster has OLM". */
export const OLM_MARKER_CRD = 'subscriptions.operators.coreos.com';

/** The package's own type token; `flights:index:Olm` before 0.3.0 (an alias, so existing stacks rename, not replace). */
export const OLM_TYPE = 'flight-operator:index:Olm';

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

/** The Helm chart type of programs up to 0.3.0 included (its recorded commit fb17e76): three v3 Charts, `<name>-crds`, `<name>` and `<name>-operators`. */
const V3_CHART = 'kubernetes:helm.sh/v3:Chart';

/**
 * Where a v3-era stack has an object: the v3 Chart it sat under (CRDs and
 * Namespaces first, Deployments last, the rest between).
 */
function v3ChartSuffix(kind: string | undefined): string {
  return kind === 'Namespace' || kind === 'CustomResourceDefinition' ? '-crds' : kind === 'Deployment' ? '-operators' : '';
}

/**
 * A Helm post-renderer (run by the Kubernetes provider, with this program's
 * Node) that drops packageserver's ClusterServiceVersion from the rendered
 * chart: a v4 Chart's transforms can change an object but not leave one out,
 * and the chart has no value for it. Inline, so it runs the same from this
 * repo (TypeScript under tsx) and from the compiled package.
 */
const DROP_PACKAGESERVER = [
  "let s = '';",
  "process.stdin.setEncoding('utf8').on('data', (d) => (s += d)).on('end', () => process.stdout.write(",
  "  s.split(/^---[ \\t]*$/m).filter((d) => !(/^kind: ClusterServiceVersion[ \\t]*$/m.test(d) && /^  name: packageserver[ \\t]*$/m.test(d))).join('---')));",
].join('\n');

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
  /** OLM's upstream chart, rendered by the provider (helm.v4: it orders Namespaces and CRDs before what needs them). */
  public readonly chart: k8s.helm.v4.Chart;
  /**
   * Every object of the chart, once created: what to depend on. A plain
   * `dependsOn: olm` is not enough: the chart registers its objects only after
   * the provider rendered it, so a dependent could start before OLM's CRDs.
   */
  public readonly ready: pulumi.Output<pulumi.Resource[]>;

  constructor(name: string, args: OlmArgs, opts?: pulumi.ComponentResourceOptions) {
    super(OLM_TYPE, name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { type: 'flights:index:Olm' }] });
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
    // Stacks made by those programs hold every object under one of three v3
    // Charts (and, before 0.3.0, under the flights:index:Olm type): each
    // object gets the URNs it had there as aliases, so moving to v4 keeps
    // OLM's CRDs and everything else (a delete would take every Subscription
    // and CSV with them). resourcePrefix '' keeps the v3 object names.
    const olmUrn = new Promise<string>((resolve) => this.urn.apply(resolve));
    const v3Parents = async (kind: string | undefined): Promise<string[]> => {
      // urn:pulumi:<stack>::<project>::<qualified type>::<name>
      const [stack, project, qualifiedType, ...rest] = (await olmUrn).split('::');
      const chart = `${rest.join('::')}${v3ChartSuffix(kind)}`;
      return [qualifiedType, qualifiedType.replace(/flight-operator:index:Olm$/, 'flights:index:Olm')].map((t) => `${stack}::${project}::${t}$${V3_CHART}::${chart}`);
    };
    this.chart = new k8s.helm.v4.Chart(
      name,
      {
        chart: args.chartPath,
        values,
        resourcePrefix: '',
        ...(packageServer ? {} : { postRenderer: { command: process.execPath, args: ['-e', DROP_PACKAGESERVER] } }),
      },
      {
        parent: this,
        transforms: [
          async ({ custom, type, props, opts: childOpts }) => {
            if (!custom || !type.startsWith('kubernetes:')) return undefined;
            const metadata = { ...(props.metadata ?? {}) };
            metadata.labels = { ...(metadata.labels ?? {}), [INSTALLED_BY_LABEL]: args.installedBy };
            // OLM's two Deployments are not awaited: the provider orders an object after its Namespace
            // (and a custom resource after its CRD), not a Deployment after the ServiceAccount its pods
            // need, so an awaited Deployment can hold one of the engine's `--parallel` slots while that
            // ServiceAccount, or the CRDs, queue behind it; with every slot held so, `up` stalls (in one CI
            // run it created no CRD in 600 s). The Subscription's wait, which only a running OLM ends, stays.
            if (props.kind === 'Deployment') metadata.annotations = { ...(metadata.annotations ?? {}), 'pulumi.com/skipAwait': 'true' };
            const aliases = (await v3Parents(props.kind)).map((parent) => ({ parent }));
            return { props: { ...props, metadata }, opts: { ...childOpts, aliases: [...(childOpts.aliases ?? []), ...aliases] } };
          },
        ],
      },
    );
    // The chart itself, once its objects exist: handed to dependsOn, the elements of `resources` were
    // refused ("'dependsOn' was passed a value that was not a Resource").
    this.ready = this.chart.resources.apply(() => [this.chart as pulumi.Resource]);
    this.registerOutputs({ namespace: this.namespace, operatorNamespace: this.operatorNamespace });
  }
}
