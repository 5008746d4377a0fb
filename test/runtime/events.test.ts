/** EventRecorder against a real apiserver: core/v1 Events, aggregated by count. */
import * as k8s from '@kubernetes/client-node';
import { KubeClient } from '../../controller/runtime/client';
import { EventRecorder } from '../../controller/runtime/events';
import { loadKubeConfig } from '../../testenv/kube';
import { useNamespace } from '../../testenv/namespace';
import { configmaps } from './helpers';

const ns = useNamespace('rt-events');

test('records an Event on the object and aggregates repeats into count', async () => {
  const client = KubeClient.fromKubeConfig(loadKubeConfig());
  const cm = await client.create<k8s.V1ConfigMap>(configmaps, ns.name, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'subject' } });
  const rec = new EventRecorder({ client, component: 'runtime-test', instance: 'pod-x' });
  rec.warning({ ...cm, apiVersion: 'v1', kind: 'ConfigMap' }, 'Failed', 'it broke');
  await rec.flush();
  rec.warning({ ...cm, apiVersion: 'v1', kind: 'ConfigMap' }, 'Failed', 'it broke');
  rec.normal({ ...cm, apiVersion: 'v1', kind: 'ConfigMap' }, 'Fixed', 'all good');
  await rec.flush();
  const list = await client.list<k8s.CoreV1Event>({ group: '', version: 'v1', plural: 'events' }, ns.name, { fieldSelector: 'involvedObject.name=subject' });
  const byReason = Object.fromEntries(list.items.map((e) => [e.reason, e]));
  expect(list.items).toHaveLength(2);
  expect(byReason.Failed).toMatchObject({ type: 'Warning', message: 'it broke', count: 2, source: { component: 'runtime-test', host: 'pod-x' }, reportingComponent: 'runtime-test' });
  expect(byReason.Failed.involvedObject).toMatchObject({ kind: 'ConfigMap', name: 'subject', uid: cm.metadata!.uid });
  expect(byReason.Fixed).toMatchObject({ type: 'Normal', count: 1 });
});
