import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';

export interface OlmInstallArgs {
  /** OLM's release manifests, as files or URLs: crds.yaml first, then olm.yaml. */
  readonly manifests: string[];
}

/**
 * Operator Lifecycle Manager itself, from its release manifests (the files
 * `operator-sdk olm install` applies). Skip it on clusters that ship OLM.
 */
export class OlmInstall extends pulumi.ComponentResource {
  public readonly ready: pulumi.Resource[];

  constructor(name: string, args: OlmInstallArgs, opts?: pulumi.ComponentResourceOptions) {
    super('flights:index:OlmInstall', name, {}, opts);
    if (!args.manifests.length) throw new Error('OlmInstall: no OLM manifests given (config flight-operator:olmManifests)');
    // One group per file, in order: the CRDs must exist before OLM's own objects.
    let previous: pulumi.Resource[] = [];
    for (const [i, file] of args.manifests.entries()) {
      const group = new k8s.yaml.v2.ConfigFile(`${name}-${i}`, { file }, { parent: this, dependsOn: previous });
      previous = [group];
    }
    this.ready = previous;
    this.registerOutputs({});
  }
}
