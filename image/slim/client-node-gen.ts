/**
 * Stand-in for @kubernetes/client-node's generated API index (dist/gen/index.js)
 * where its config.js imports it, in the controller's bundle
 * (image/bundle-slim.ts). config.js needs two names from it, both only for
 * KubeConfig.makeApiClient (the generated typed clients), which the controller
 * does not use: the 539 models and their serializer maps stay out.
 */
export { ServerConfiguration } from '@kubernetes/client-node/dist/gen/servers.js';

export function createConfiguration(): never {
  throw new Error('the generated Kubernetes API clients (KubeConfig.makeApiClient) are not in the controller bundle (image/bundle-slim.ts)');
}
