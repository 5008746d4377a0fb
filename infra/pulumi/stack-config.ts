/**
 * The stack's settings (Pulumi.<stack>.yaml, `pulumi config set ...`), read
 * once, typed and validated before any resource is declared, so that a bad
 * setting fails `pulumi preview` with a message that names it, never a
 * half-applied `up`. Checks that need the network (does the catalog answer?)
 * live in cluster-checks.ts.
 */
import * as pulumi from '@pulumi/pulumi';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { defaultSettings } from '../defaults';
import { OperatorSettings, SettingsError } from '../settings';

/** Config namespace: keys are `flight-operator:<name>`. */
export const CONFIG_NAMESPACE = 'flight-operator';

export type OlmInstallMode = 'auto' | 'always' | 'never';

export interface ClusterAccess {
  /** Path of the kubeconfig file (the state keeps the path, never the credentials in it). */
  readonly kubeconfig: string;
  /** Context in it; default: its current-context. */
  readonly context?: string;
}

export interface OlmStackConfig {
  /**
   * Install OLM itself: `always` or `never` (default: the cluster has OLM).
   * `auto` (opt-in) asks the cluster on every run whether OLM is there and
   * whether this stack installed it; a cluster that answers differently later
   * (a lost label, a read that fails over to "absent") would plan OLM's deletion.
   */
  readonly installOlm: OlmInstallMode;
  /** OLM's upstream Helm chart directory (tools/ensure.sh olm puts it in <bin>/../chart). Needed when OLM is installed. */
  readonly olmChart?: string;
  /** Run OLM's packageserver (the packagemanifests API). Default true. */
  readonly olmPackageServer: boolean;
  /** OLM's namespace, which is also the global catalog namespace. */
  readonly olmNamespace: string;
  readonly catalog: { readonly address: string } | { readonly image: string };
  readonly catalogNamespace: string;
  readonly targetNamespaces: string[];
  readonly approval: 'Automatic' | 'Manual';
}

export interface StackConfig {
  readonly method: 'manifests' | 'olm';
  readonly cluster: ClusterAccess;
  readonly settings: OperatorSettings;
  /** Bearer token of the booking API: a Pulumi secret, becomes the credentials Secret. */
  readonly bookingToken?: pulumi.Output<string>;
  readonly olm?: OlmStackConfig;
  /** The CRD's lifecycle on the manifests stack (flight-operator:protectCrd, :retainCrd; docs/pulumi.md). */
  readonly crd: { readonly protect: boolean; readonly retainOnDelete: boolean };
}

export class StackConfigError extends Error {
  constructor(key: string, problem: string) {
    super(`${CONFIG_NAMESPACE}:${key}: ${problem}`);
    this.name = 'StackConfigError';
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HOST_PORT = /^[^\s:/]+:\d{1,5}$/;

/** Channels of our package in the file-based catalog this release ships (olm-bundle/catalog). */
export function catalogChannels(catalogFile = join(__dirname, '..', '..', 'olm-bundle', 'catalog', 'flight-operator', 'catalog.yaml')): string[] {
  return parseAllDocuments(readFileSync(catalogFile, 'utf8'))
    .map((d) => d.toJSON() as { schema?: string; name?: string })
    .filter((b) => b?.schema === 'olm.channel')
    .map((b) => b.name as string);
}

function oneOf<T extends string>(config: pulumi.Config, key: string, allowed: readonly T[], fallback: T): T {
  const v = config.get(key) ?? fallback;
  if (!allowed.includes(v as T)) throw new StackConfigError(key, `must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

function dnsLabel(config: pulumi.Config, key: string, fallback: string, what = 'a namespace name'): string {
  const v = config.get(key) ?? fallback;
  if (!DNS_LABEL.test(v)) throw new StackConfigError(key, `"${v}" is not ${what} (lower case letters, digits and '-', at most 63)`);
  return v;
}

function booleanSetting(config: pulumi.Config, key: string, fallback: boolean): boolean {
  const v = config.get(key);
  if (v === undefined) return fallback;
  if (v !== 'true' && v !== 'false') throw new StackConfigError(key, `must be true or false, got "${v}"`);
  return v === 'true';
}

/**
 * Reads and validates every setting. `env` is the process environment (for
 * KUBECONFIG and the engine's list of secret keys); tests pass their own.
 */
export function readStackConfig(config = new pulumi.Config(CONFIG_NAMESPACE), env: NodeJS.ProcessEnv = process.env): StackConfig {
  const method = oneOf(config, 'installMethod', ['manifests', 'olm'] as const, 'manifests');

  const kubeconfig = config.get('kubeconfig') ?? env.KUBECONFIG?.split(':')[0] ?? join(homedir(), '.kube', 'config');
  if (!existsSync(kubeconfig)) {
    throw new StackConfigError('kubeconfig', `${kubeconfig} does not exist (set it to the kubeconfig file of the target cluster)`);
  }
  const context = config.get('context');
  if (context !== undefined) {
    const contexts = parseAllDocuments(readFileSync(kubeconfig, 'utf8'))[0]?.toJSON()?.contexts as { name: string }[] | undefined;
    if (!contexts?.some((c) => c.name === context)) {
      throw new StackConfigError('context', `no context "${context}" in ${kubeconfig} (it has: ${(contexts ?? []).map((c) => c.name).join(', ') || 'none'})`);
    }
  }

  const namespace = dnsLabel(config, 'namespace', 'flight-operator-system');
  let settings: OperatorSettings;
  try {
    settings = defaultSettings({
      namespace,
      ...(config.get('image') ? { image: config.require('image') } : {}),
      ...(config.get('bookingApiUrl') ? { bookingApiUrl: config.require('bookingApiUrl') } : {}),
      ...(config.get('replicas') !== undefined ? { replicas: Number(config.require('replicas')) } : {}),
      ...(config.get('channel') ? { channel: config.require('channel') } : {}),
      ...(config.get('releaseName') !== undefined ? { releaseName: config.require('releaseName') } : {}),
      ...(config.getObject<string[]>('watchNamespaces') !== undefined ? { watchNamespaces: config.requireObject<string[]>('watchNamespaces') } : {}),
    });
  } catch (e) {
    // validateSettings names the field; say which config key sets it.
    if (e instanceof SettingsError) throw new StackConfigError(/"(\w+)"/.exec(e.message)?.[1] ?? 'settings', e.message);
    throw e;
  }

  let bookingToken: pulumi.Output<string> | undefined;
  if (config.get('bookingToken') !== undefined) {
    const secretKeys = JSON.parse(env.PULUMI_CONFIG_SECRET_KEYS ?? '[]') as string[];
    if (env.PULUMI_CONFIG_SECRET_KEYS !== undefined && !secretKeys.includes(`${CONFIG_NAMESPACE}:bookingToken`)) {
      throw new StackConfigError('bookingToken', 'is stored in clear text: set it with `pulumi config set --secret flight-operator:bookingToken`');
    }
    bookingToken = config.requireSecret('bookingToken');
  }

  const crd = { protect: booleanSetting(config, 'protectCrd', false), retainOnDelete: booleanSetting(config, 'retainCrd', false) };
  if (method === 'manifests') return { method, cluster: { kubeconfig, context }, settings, bookingToken, crd };

  const channels = catalogChannels();
  if (!channels.includes(settings.channel)) {
    throw new StackConfigError('channel', `unknown channel "${settings.channel}" of package ${settings.packageName} (the catalog has: ${channels.join(', ')})`);
  }
  const address = config.get('catalogAddress');
  const image = config.get('catalogImage');
  if (!address === !image) throw new StackConfigError(address ? 'catalogImage' : 'catalogAddress', 'set exactly one of catalogAddress (host:port of a registry gRPC server) and catalogImage');
  if (address !== undefined && !HOST_PORT.test(address)) throw new StackConfigError('catalogAddress', `"${address}" is not host:port`);
  const olmNamespace = dnsLabel(config, 'olmNamespace', 'olm');
  const installOlm = oneOf(config, 'installOlm', ['auto', 'always', 'never'] as const, 'never');
  const olmChart = config.get('olmChart') ?? env.FLIGHT_OLM_CHART;
  if (olmChart !== undefined && !existsSync(join(olmChart, 'Chart.yaml'))) {
    throw new StackConfigError('olmChart', `${olmChart} is not a Helm chart directory (no Chart.yaml); tools/ensure.sh olm copies OLM's chart to <bin>/chart`);
  }
  const targetNamespaces = config.getObject<string[]>('targetNamespaces') ?? [namespace];
  for (const ns of targetNamespaces) {
    if (!DNS_LABEL.test(ns)) throw new StackConfigError('targetNamespaces', `"${ns}" is not a namespace name`);
  }
  return {
    method,
    cluster: { kubeconfig, context },
    settings,
    bookingToken,
    crd,
    olm: {
      installOlm,
      olmChart,
      olmPackageServer: booleanSetting(config, 'olmPackageServer', true),
      olmNamespace,
      catalog: address !== undefined ? { address } : { image: image as string },
      catalogNamespace: dnsLabel(config, 'catalogNamespace', olmNamespace),
      targetNamespaces,
      approval: oneOf(config, 'approval', ['Automatic', 'Manual'] as const, 'Automatic'),
    },
  };
}
