import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { CONTROLLER_NAME, GROUP, PLURAL } from '../settings';

export interface ControllerRbacProps {
  /** Namespace of the controller (its ServiceAccount and leader-election Lease). */
  readonly namespace: string;
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

  constructor(scope: Construct, id: string, props: ControllerRbacProps) {
    super(scope, id);
    const metadata = { namespace: props.namespace, labels: { 'app.kubernetes.io/name': CONTROLLER_NAME } };

    this.serviceAccount = new kplus.ServiceAccount(this, 'ServiceAccount', {
      metadata: { ...metadata, name: CONTROLLER_NAME },
      // The controller talks to the API server, so it needs its token.
      automountToken: true,
    });

    this.clusterRole = new kplus.ClusterRole(this, 'ClusterRole', {
      metadata: { name: CONTROLLER_NAME, labels: metadata.labels },
    });
    // update: add/remove the finalizer with optimistic concurrency; patch: annotations.
    this.clusterRole.allow(['get', 'list', 'watch', 'update', 'patch'], ticketResource(PLURAL));
    this.clusterRole.allow(['get', 'update', 'patch'], ticketResource(`${PLURAL}/status`));
    // Needed where OwnerReferencesPermissionEnforcement is on: setting finalizers.
    this.clusterRole.allow(['update'], ticketResource(`${PLURAL}/finalizers`));
    this.clusterRole.allow(['create', 'patch'], kplus.ApiResource.EVENTS);
    // The cluster's identity (the kube-system namespace's uid), recorded on
    // every booking so the orphan sweep only ever touches this cluster's.
    const kubeSystem = { apiGroup: '', resourceType: 'namespaces', resourceName: 'kube-system' };
    this.clusterRole.allow(['get'], { asApiResource: () => kubeSystem, asNonApiResource: () => undefined });

    this.leaderElectionRole = new kplus.Role(this, 'LeaderElectionRole', {
      metadata: { ...metadata, name: `${CONTROLLER_NAME}-leader-election` },
    });
    this.leaderElectionRole.allow(['get', 'create', 'update'], kplus.ApiResource.LEASES);

    new kplus.ClusterRoleBinding(this, 'ClusterRoleBinding', {
      metadata: { name: CONTROLLER_NAME, labels: metadata.labels },
      role: this.clusterRole,
    }).addSubjects(this.serviceAccount);
    new kplus.RoleBinding(this, 'LeaderElectionRoleBinding', {
      metadata: { ...metadata, name: `${CONTROLLER_NAME}-leader-election` },
      role: this.leaderElectionRole,
    }).addSubjects(this.serviceAccount);
  }
}
