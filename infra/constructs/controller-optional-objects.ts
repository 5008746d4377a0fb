import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-27';
import { CONTROLLER_NAME } from '../settings';

export interface ControllerOptionalObjectsProps {
  readonly namespace: string;
  /** Namespaced objects of kinds the cluster may not serve (e.g. a ServiceMonitor). */
  readonly objects: readonly ApiObject[];
}

/** Where the Deployment mounts the ConfigMap; the controller's --optional-objects-dir. */
export const OPTIONAL_OBJECTS_DIR = '/etc/flight-operator/optional-objects';

/**
 * Objects shipped as data: a ConfigMap (always installable, by OLM too)
 * holding one `<kind>.json` per object, which the controller applies
 * (controller/runtime/optional-objects.ts) once the cluster serves the
 * kind. `kinds` is what its RBAC must allow, nothing more.
 */
export class ControllerOptionalObjects extends Construct {
  public readonly configMap: kplus.ConfigMap;
  /** API group and resource (plural) of each object, for the controller's Role. */
  public readonly kinds: ReadonlyArray<{ apiGroup: string; resource: string }>;

  constructor(scope: Construct, id: string, props: ControllerOptionalObjectsProps) {
    super(scope, id);
    const data: Record<string, string> = {};
    const kinds: Array<{ apiGroup: string; resource: string }> = [];
    for (const source of props.objects) {
      const json = source.toJson();
      // The controller puts them in its own namespace.
      delete json.metadata.namespace;
      data[`${json.kind.toLowerCase()}-${json.metadata.name}.json`] = `${JSON.stringify(json, null, 2)}\n`;
      // Regular English plurals: true of every kind shipped here (servicemonitors, prometheusrules).
      kinds.push({ apiGroup: json.apiVersion.split('/')[0], resource: `${json.kind.toLowerCase()}s` });
    }
    this.kinds = kinds;
    this.configMap = new kplus.ConfigMap(this, 'Resource', {
      metadata: { name: `${CONTROLLER_NAME}-optional-objects`, namespace: props.namespace, labels: { 'app.kubernetes.io/name': CONTROLLER_NAME } },
      data,
    });
  }
}
