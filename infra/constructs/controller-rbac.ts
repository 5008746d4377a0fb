import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { CONTROLLER_NAME, GROUP, PLURAL } from '../settings';

export interface ControllerRbacProps {
  /** Namespace of the controller (its ServiceAccount and leader-election Lease). */
  readonly namespace: string;
  /** Name of the ClusterRole and ClusterRoleBinding (cluster-scoped: unique per install); default CONTROLLER_NAME. */
  readonly clusterScopedName?: string;
  /**
   * Namespaces the controller watches; empty or unset: all. When set, the
   * rights on FlightTickets and Events are Roles in those namespaces only.
   */
  readonly watchNamespaces?: readonly string[];
  /**
   * Objects the controller applies itself (ControllerOptionalObjects): a Role
   * for exactly their kinds, and for reading the Deployment that owns them.
   */
  readonly optionalObjects?: { readonly kinds: ReadonlyArray<{ apiGroup: string; resource: string }>; readonly ownerDeployment: string };
}

const ticketResource = (resourceType: string) => kplus.ApiResource.custom({ apiGroup: GROUP, resourceType });

/**
 * Least privilege for the controller: exactly the calls it makes, no
 * wildcard. Tickets cluster-wide (it may watch every namespace), the Lease in
 * its own namespace only. Checked against a real API server with
 * SubjectAccessReviews in test/.
 */
export class ControllerRbac extends Construct {
  public readonly serviceAccount: kplus.ServiceAccount;
  /** Rules on FlightTickets and Events: a ClusterRole, or the CSV's clusterPermissions. */
  public readonly clusterRole: kplus.ClusterRole;
  /** Rules on the leader-election Lease: a Role, or the CSV's permissions. */
  public readonly leaderElectionRole: kplus.Role;
  public readonly namespaceRoles: kplus.Role[];
  /** Rules for the optional objects in the controller's namespace (props.optionalObjects): a Role, or more of the CSV's permissions. */
  public readonly optionalObjectsRole?: kplus.Role;

  constructor(scope: Construct, id: string, props: ControllerRbacProps) {
    super(scope, id);
    const metadata = { namespace: props.namespace, labels: { 'app.kubernetes.io/name': CONTROLLER_NAME } };

    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { ...metadata, name: CONTROLLER_NAME },
      // The controller talks to the API server, so it needs its token.
      automountToken: true,
    });

    this.clusterRole = new kplus.ClusterRole(this, 'ClusterRole', {
      metadata: { name: props.clusterScopedName ?? CONTROLLER_NAME, labels: metadata.labels },
    });
    const watched = props.watchNamespaces ?? [];
    /** Roles in the watched namespaces, bound to the ServiceAccount; empty when it watches all. */
    this.namespaceRoles = watched.map((ns) => {
      const role = new kplus.Role(this, `TicketsRole-${ns}`, { metadata: { ...metadata, namespace: ns, name: props.clusterScopedName ?? CONTROLLER_NAME } });
      allowTickets(role);
      new kplus.RoleBinding(this, `TicketsRoleBinding-${ns}`, { metadata: { ...metadata, namespace: ns, name: props.clusterScopedName ?? CONTROLLER_NAME }, role }).addSubjects(this.serviceAccount);
      return role;
    });
    if (!watched.length) allowTickets(this.clusterRole);
    // The cluster's identity (the kube-system namespace's uid), recorded on
    // every booking so the orphan sweep only ever touches this cluster's. A
    // namespace is cluster-scoped: no Role can grant this, so it stays in the
    // ClusterRole even when the tickets' rights are Roles.
    const kubeSystem = { apiGroup: '', resourceType: 'namespaces', resourceName: 'kube-system' };
    this.clusterRole.allow(['get'], { asApiResource: () => kubeSystem, asNonApiResource: () => undefined });

    this.leaderElectionRole = new kplus.Role(this, 'LeaderElectionRole', {
      metadata: { ...metadata, name: `${CONTROLLER_NAME}-leader-election` },
    });
    this.leaderElectionRole.allow(['get', 'create', 'update'], kplus.ApiResource.LEASES);

    if (props.optionalObjects) {
      const role = new kplus.Role(this, 'OptionalObjectsRole', { metadata: { ...metadata, name: `${CONTROLLER_NAME}-optional-objects` } });
      // create and patch: a server-side apply creates what is missing; get: its owner's uid.
      for (const k of props.optionalObjects.kinds) role.allow(['get', 'create', 'patch'], kplus.ApiResource.custom({ apiGroup: k.apiGroup, resourceType: k.resource }));
      role.allow(['get'], { apiGroup: 'apps', resourceType: 'deployments', resourceName: props.optionalObjects.ownerDeployment });
      new kplus.RoleBinding(this, 'OptionalObjectsRoleBinding', { metadata: { ...metadata, name: `${CONTROLLER_NAME}-optional-objects` }, role }).addSubjects(this.serviceAccount);
      this.optionalObjectsRole = role;
    }

    new kplus.ClusterRoleBinding(this, 'ClusterRoleBinding', {
      metadata: { name: props.clusterScopedName ?? CONTROLLER_NAME, labels: metadata.labels },
      role: this.clusterRole,
    }).addSubjects(this.serviceAccount);
    new kplus.RoleBinding(this, 'LeaderElectionRoleBinding', {
      metadata: { ...metadata, name: `${CONTROLLER_NAME}-leader-election` },
      role: this.leaderElectionRole,
    }).addSubjects(this.serviceAccount);
  }
}

/** What the controller does to tickets and Events, on a ClusterRole (all namespaces) or a Role (one). */
function allowTickets(role: kplus.ClusterRole | kplus.Role): void {
  // update: add/remove the finalizer with optimistic concurrency; patch: annotations.
  role.allow(['get', 'list', 'watch', 'update', 'patch'], ticketResource(PLURAL));
  role.allow(['get', 'update', 'patch'], ticketResource(`${PLURAL}/status`));
  // Needed where OwnerReferencesPermissionEnforcement is on: setting finalizers.
  role.allow(['update'], ticketResource(`${PLURAL}/finalizers`));
  role.allow(['create', 'patch'], kplus.ApiResource.EVENTS);
}
