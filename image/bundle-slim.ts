/**
 * What the controller's bundle leaves out of its dependencies, and why
 * (loaded code is most of the controller's RSS: docs/scale.md, Memory).
 *
 * The controller's own code imports client-node's modules directly
 * (controller/runtime/client-node.ts), not its index. The imports below, inside
 * client-node, undici and prom-client, would still load far more than runs; each is
 * swapped for a stand-in under image/slim/ that says what it leaves out:
 *
 * - client-node's config.js -> ./gen/index.js (the generated API: 539 models,
 *   serializer maps, typed clients): only KubeConfig.makeApiClient needs it;
 *   and gen/http/http.js -> ./isomorphic-fetch.js (the typed clients' fetch).
 * - client-node's azure/gcp/oidc auth-provider modules (openid-client,
 *   jsonpath-plus): a kubeconfig naming one gets an error saying so.
 * - hpagent, socks-proxy-agent: node:http agents for client-node's WebSocket
 *   features only. proxy-url keeps working through undici's ProxyAgent (http,
 *   https) and `socks` (socks5), which is swapped for undici's own SOCKS5 client
 *   (image/slim/socks.ts; SOCKS4 is not kept).
 * - `undici` -> its Agent, ProxyAgent, EnvHttpProxyAgent and request() (image/slim/undici.ts):
 *   no fetch, WebSocket, EventSource, caches or mocks; and inside undici, its
 *   WHATWG FormData support, for FormData request bodies only, and its llhttp
 *   build for machines without WebAssembly SIMD (image/slim/llhttp-no-simd.ts).
 * - prom-client -> @opentelemetry/api, for exemplars only (not enabled).
 *
 * And `esbuildDetection` is defined, as undici's own build for Node core does,
 * so its experimental Milo parser (off unless UNDICI_USE_MILO=1; two
 * WebAssembly builds, 160 KB) is left out and llhttp parses, as in Node itself.
 */
import type { Plugin } from 'esbuild';
import { join } from 'node:path';
import { REPO_ROOT } from './cache';

const SLIM = join(REPO_ROOT, 'image/slim');
const CLIENT_NODE_DIST = /node_modules\/@kubernetes\/client-node\/dist\/[^/]+\.js$/;

/** [import path, importer that must match (or undefined for any), stand-in]. */
const REPLACEMENTS: Array<[RegExp, RegExp | undefined, string]> = [
  [/^\.\/gen\/index\.js$/, CLIENT_NODE_DIST, 'client-node-gen.ts'],
  [/^\.\/isomorphic-fetch\.js$/, /node_modules\/@kubernetes\/client-node\/dist\/gen\/http\/http\.js$/, 'client-node-fetch.ts'],
  [/^\.\/(azure_auth|gcp_auth|oidc_auth)\.js$/, CLIENT_NODE_DIST, 'auth-providers.ts'],
  [/^(hpagent|socks-proxy-agent)$/, undefined, 'node-agents.ts'],
  [/^undici$/, undefined, 'undici.ts'],
  [/^\.\.\/web\/(fetch\/formdata|webidl|fetch\/body\.js)$/, /node_modules\/undici\/lib\/(core\/request|dispatcher\/client-h[12])\.js$/, 'undici-formdata.ts'],
  [/^\.\.\/llhttp\/llhttp-wasm\.js$/, /node_modules\/undici\/lib\/dispatcher\/client-h1\.js$/, 'llhttp-no-simd.ts'],
  [/^socks$/, CLIENT_NODE_DIST, 'socks.ts'],
  [/^@opentelemetry\/api$/, /node_modules\/prom-client\//, 'opentelemetry-api.ts'],
];

/** The esbuild plugin applying REPLACEMENTS. */
export const slimPlugin: Plugin = {
  name: 'flight-operator-slim',
  setup(b) {
    for (const [path, importer, standIn] of REPLACEMENTS) {
      b.onResolve({ filter: path }, (args) => {
        if (importer && !importer.test(args.importer)) return undefined;
        return { path: join(SLIM, standIn) };
      });
    }
  },
};

/** esbuild `define`s for the bundle (see above). */
export const SLIM_DEFINE: Record<string, string> = { esbuildDetection: '1' };
