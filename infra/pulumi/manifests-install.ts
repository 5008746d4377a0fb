import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { App, Testing } from 'cdk8s';
import { CrdChart } from '../charts/crd-chart';
import { OperatorChart } from '../charts/operator-chart';
import { OperatorSettings } from '../settings';

export interface ManifestsInstallArgs {
  readonly settings: OperatorSettings;
}

/**
 * The operator from the plain manifests: the very objects `npm run synth`
 * writes to dist/, synthesized in-process from the same cdk8s charts, the
 * CRD first. Server-side apply (the provider's default) with Pulumi's await
 * logic, so `pulumi up` returns once the controller Deployment is Available.
 */
export class ManifestsInstall extends pulumi.ComponentResource {
  public readonly crd: k8s.yaml.v2.ConfigGroup;
  public readonly operator: k8s.yaml.v2.ConfigGroup;

  constructor(name: string, args: ManifestsInstallArgs, opts?: pulumi.ComponentResourceOptions) {
    super('flights:index:ManifestsInstall', name, {}, opts);
    const crdObjects = Testing.synth(new CrdChart(new App(), 'crd'));
    const operatorObjects = Testing.synth(new OperatorChart(new App(), 'operator', { settings: args.settings }));
    this.crd = new k8s.yaml.v2.ConfigGroup(`${name}-crd`, { objs: crdObjects }, { parent: this });
    this.operator = new k8s.yaml.v2.ConfigGroup(`${name}-operator`, { objs: operatorObjects }, { parent: this, dependsOn: [this.crd] });
    this.registerOutputs({});
  }
}
