import { Chart, Testing } from 'cdk8s';
import { ControllerRbac } from './controller-rbac';

describe('ControllerRbac', () => {
  // GIVEN the controller's RBAC in namespace "ops"
  const chart = new Chart(Testing.app(), 'test');
  new ControllerRbac(chart, 'rbac', { namespace: 'ops' });
  // WHEN synthesized
  const objects = Testing.synth(chart);
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const rules = (o: any) => o.rules.map((r: any) => `${r.apiGroups.join(',')}|${r.resources.join(',')}|${r.verbs.join(',')}`);

  test('the ClusterRole grants exactly what the controller calls, no wildcard', () => {
    // THEN
    expect(rules(byKind('ClusterRole')[0])).toEqual([
      'flights.com|flighttickets|get,list,watch,update,patch',
      'flights.com|flighttickets/status|get,update,patch',
      'flights.com|flighttickets/finalizers|update',
      '|events|create,patch',
      '|namespaces|get',
    ]);
    // The cluster identity: the kube-system namespace, by name, and nothing else.
    expect(byKind('ClusterRole')[0].rules.find((r: any) => r.resources.includes('namespaces')).resourceNames).toEqual(['kube-system']);
    expect(JSON.stringify(objects)).not.toContain('"*"');
  });

  test('the leader-election Lease is reachable only in the controller namespace', () => {
    const [role] = byKind('Role');
    expect(role.metadata.namespace).toBe('ops');
    expect(rules(role)).toEqual(['coordination.k8s.io|leases|get,create,update']);
    expect(byKind('ClusterRole')[0].rules.some((r: any) => r.resources.includes('leases'))).toBe(false);
  });

  test('both roles are bound to the controller ServiceAccount, which mounts its token', () => {
    const [sa] = byKind('ServiceAccount');
    expect(sa).toMatchObject({ metadata: { name: 'flight-operator-controller', namespace: 'ops' }, automountServiceAccountToken: true });
    for (const binding of [...byKind('ClusterRoleBinding'), ...byKind('RoleBinding')]) {
      expect(binding.subjects).toEqual([{ apiGroup: '', kind: 'ServiceAccount', name: 'flight-operator-controller', namespace: 'ops' }]);
    }
    expect(byKind('ClusterRoleBinding')[0].roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flight-operator-controller' });
    expect(byKind('RoleBinding')[0].roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'flight-operator-controller-leader-election',
    });
  });
});
