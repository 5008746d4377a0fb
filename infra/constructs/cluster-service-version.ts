import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { MONITORING_SINCE, OPTIONAL_MONITORING_SINCE, versionAtLeast } from '../releases';
import { CRD_NAME, INSTALL_MODES, KIND, OperatorSettings } from '../settings';

export interface ClusterServiceVersionProps {
  readonly settings: OperatorSettings;
  /** The deployment whose spec OLM will create: the same object the plain manifests ship. */
  readonly deployment: kplus.Deployment;
  readonly serviceAccountName: string;
  /** Cluster-wide rules (tickets, events) and namespaced rules (leader-election Lease). */
  readonly clusterRole: kplus.ClusterRole;
  readonly role: kplus.Role;
  /** Rules for the objects the controller applies itself (ControllerRbac.optionalObjectsRole), from OPTIONAL_MONITORING_SINCE. */
  readonly optionalObjectsRole?: kplus.Role;
  /** Example custom resources for the console (alm-examples). */
  readonly examples: object[];
  /** SVG icon. */
  readonly iconSvg: string;
  /** RFC 3339 time the release was cut; fixed per version so the bundle is reproducible. */
  readonly createdAt: string;
  readonly minKubeVersion: string;
  readonly repository: string;
  /** Version of the release this one upgrades (spec.replaces names its CSV). */
  readonly replaces?: string;
  /** Versions OLM may upgrade from in one step (annotation olm.skipRange). */
  readonly skipRange?: string;
}

const text = 'urn:alm:descriptor:com.tectonic.ui:text';

/**
 * The CSV's `capabilities`: the Operator Framework capability level each
 * release reached, every level shown by tests on a real OLM and control
 * plane. Full Lifecycle (level 3): install (test/olm/subscription-install),
 * seamless upgrade keeping every booking (test/olm/upgrade), backup and
 * restore without rebooking (test/restore). Deep Insights (level 4), from
 * MONITORING_SINCE (0.3.0): the bundle also ships the ServiceMonitor, the
 * PrometheusRule (alerts with runbooks, promtool unit tests) and the
 * Grafana dashboard (every query names an exported metric, test/monitoring).
 * Releases already cut keep what their CSV said.
 */
export function capabilityLevel(version: string): 'Full Lifecycle' | 'Deep Insights' {
  return versionAtLeast(version, MONITORING_SINCE) ? 'Deep Insights' : 'Full Lifecycle';
}

/**
 * The OLM ClusterServiceVersion. Its deployment and RBAC are read from the
 * very constructs that make the plain manifests, so the two install paths
 * cannot drift apart. A plain ApiObject: importing the 460 kB OLM CRD to get
 * a typed class is not worth it.
 */
export class ClusterServiceVersion extends Construct {
  public readonly csv: ApiObject;

  constructor(scope: Construct, id: string, props: ClusterServiceVersionProps) {
    super(scope, id);
    const s = props.settings;
    const deploymentSpec = ApiObject.of(props.deployment).toJson().spec;
    const rulesOf = (role: kplus.ClusterRole | kplus.Role) => ApiObject.of(role).toJson().rules as Array<{ resources?: string[] }>;
    // From OPTIONAL_MONITORING_SINCE the rules on tickets and Events are `permissions`: OLM grants
    // those in the OperatorGroup's target namespaces (a ClusterRole only for AllNamespaces), which are
    // the namespaces the controller watches (WATCH_NAMESPACE from olm.targetNamespaces). Only the
    // cluster-scoped read of the kube-system Namespace stays in clusterPermissions.
    const scoped = versionAtLeast(s.version, OPTIONAL_MONITORING_SINCE);
    const clusterScoped = (r: { resources?: string[] }) => !!r.resources?.includes('namespaces');
    const clusterRules = rulesOf(props.clusterRole);
    const permissionRules = [
      ...rulesOf(props.role),
      ...(scoped ? clusterRules.filter((r) => !clusterScoped(r)) : []),
      ...(props.optionalObjectsRole ? rulesOf(props.optionalObjectsRole) : []),
    ];

    this.csv = new ApiObject(this, 'Resource', {
      apiVersion: 'operators.coreos.com/v1alpha1',
      kind: 'ClusterServiceVersion',
      metadata: {
        name: `${s.packageName}.v${s.version}`,
        annotations: {
          'alm-examples': JSON.stringify(props.examples, null, 2),
          capabilities: capabilityLevel(s.version),
          categories: 'Integration & Delivery',
          containerImage: s.image,
          createdAt: props.createdAt,
          description: 'Books, changes and cancels flight tickets declared as FlightTicket resources.',
          repository: props.repository,
          support: 'flight-operator maintainers',
          'operatorframework.io/suggested-namespace': s.namespace,
          ...(props.skipRange ? { 'olm.skipRange': props.skipRange } : {}),
        },
      },
      spec: {
        displayName: 'Flight Operator',
        description: [
          'The Flight Operator lets you book flights the Kubernetes way.',
          '',
          'Declare a `FlightTicket` (from, to, number of seats) and the operator books it through the booking API,',
          'exactly once: it changes the seats when you change `number`, books the new route before cancelling the old',
          'one when you change `from` or `to`, repairs bookings changed outside Kubernetes, and cancels the booking',
          'when you delete the ticket (unless the ticket is annotated `flights.com/deletion-policy: Orphan`).',
          '',
          '### Before you create tickets',
          `Create a Secret named \`${s.bookingCredentialsSecret}\` with the booking API token under the key \`token\`` +
            " in the operator's namespace. Set the API endpoint with the Subscription:" +
            ' `spec.config.env: [{name: BOOKING_API_URL, value: https://...}]`. (The bundled ConfigMap holds only the' +
            ' default: OLM rewrites it on every install and upgrade.)',
          ...(versionAtLeast(s.version, OPTIONAL_MONITORING_SINCE)
            ? [
                '',
                '### Monitoring',
                'The bundle includes a Grafana dashboard ConfigMap, and a ServiceMonitor and a PrometheusRule (alerts with runbooks)' +
                  ' as data: the controller creates those two in its namespace when the cluster serves' +
                  ' `monitoring.coreos.com/v1` (any cluster running prometheus-operator does), checking every minute, so' +
                  ' installing prometheus-operator later is enough. Without it the operator installs and runs all the same.',
              ]
            : versionAtLeast(s.version, MONITORING_SINCE)
            ? [
                '',
                '### Before you subscribe: prometheus-operator\'s CRDs',
                'The bundle includes a ServiceMonitor, a PrometheusRule (alerts with runbooks) and a Grafana dashboard ConfigMap.' +
                  ' The cluster must serve `servicemonitors` and `prometheusrules` of `monitoring.coreos.com/v1` (any cluster' +
                  ' running prometheus-operator does): without them OLM fails the InstallPlan ("GroupVersionKind' +
                  ' monitoring.coreos.com/v1, Kind=ServiceMonitor not found on the cluster") and the operator does not start.',
              ]
            : []),
        ].join('\n'),
        version: s.version,
        ...(props.replaces ? { replaces: `${s.packageName}.v${props.replaces}` } : {}),
        minKubeVersion: props.minKubeVersion,
        // From OPTIONAL_MONITORING_SINCE the maturity the channel promises (stable), when the channel is a maturity. Cut releases keep theirs.
        maturity: scoped && ['alpha', 'beta', 'stable'].includes(s.channel) ? s.channel : 'alpha',
        provider: { name: 'flight-operator project', url: props.repository },
        maintainers: [{ name: 'flight-operator maintainers', email: 'maintainers@flight-operator.dev' }],
        links: [
          { name: 'Source', url: props.repository },
          { name: 'Documentation', url: `${props.repository}/tree/main/docs` },
        ],
        keywords: ['flights', 'tickets', 'booking', 'travel'],
        icon: [{ base64data: Buffer.from(props.iconSvg).toString('base64'), mediatype: 'image/svg+xml' }],
        installModes: INSTALL_MODES.map((type) => ({ type, supported: (s.installModes ?? INSTALL_MODES).includes(type) })),
        install: {
          strategy: 'deployment',
          spec: {
            deployments: [{ name: props.deployment.name, label: ApiObject.of(props.deployment).toJson().metadata.labels, spec: deploymentSpec }],
            clusterPermissions: [{ serviceAccountName: props.serviceAccountName, rules: scoped ? clusterRules.filter(clusterScoped) : clusterRules }],
            permissions: [{ serviceAccountName: props.serviceAccountName, rules: permissionRules }],
          },
        },
        customresourcedefinitions: {
          owned: [
            {
              name: CRD_NAME,
              version: 'v1',
              kind: KIND,
              displayName: 'Flight Ticket',
              description: 'Seats on a flight, booked through the booking API.',
              resources: [{ kind: 'Event', version: 'v1', name: '' }],
              specDescriptors: [
                { path: 'from', displayName: 'From', description: 'City of departure.', 'x-descriptors': [text] },
                { path: 'to', displayName: 'To', description: 'City of arrival.', 'x-descriptors': [text] },
                {
                  path: 'number',
                  displayName: 'Seats',
                  description: 'Number of seats, 1 to 10.',
                  'x-descriptors': ['urn:alm:descriptor:com.tectonic.ui:number'],
                },
              ],
              statusDescriptors: [
                {
                  path: 'conditions',
                  displayName: 'Conditions',
                  description: 'Ready: the booking matches the spec. Synced: the last reconcile succeeded.',
                  'x-descriptors': ['urn:alm:descriptor:io.kubernetes.conditions'],
                },
                { path: 'bookingRef', displayName: 'Booking', description: 'ID of the active booking.', 'x-descriptors': [text] },
                { path: 'seats', displayName: 'Seats booked', description: 'Seats held by the booking.', 'x-descriptors': [text] },
                { path: 'route', displayName: 'Route', description: 'Route of the active booking.', 'x-descriptors': [text] },
              ],
            },
          ],
        },
        relatedImages: [{ name: 'manager', image: s.image }],
      },
    });
  }
}
