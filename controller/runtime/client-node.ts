/**
 * The parts of @kubernetes/client-node the controller runs on, imported from
 * their own modules instead of the package index. The index loads the whole
 * generated Kubernetes API (539 V1* models and their serializer maps, all the
 * typed clients), exec/attach/port-forward over WebSockets and tar: about
 * 34 MiB of RSS for code the controller never calls (docs/scale.md, Memory).
 *
 * What stays client-node's: KubeConfig (kubeconfig files, in-cluster config,
 * client certificates, token files, exec credential plugins, proxy-url) and
 * the error type the generated clients throw. config.js itself still imports
 * the generated API's index; the controller's bundle swaps that and a few other
 * modules it cannot reach for small stand-ins (image/bundle-slim.ts).
 *
 * Types come from the package index: type imports cost nothing at run time.
 */
export { KubeConfig } from '@kubernetes/client-node/dist/config.js';
export { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
export { HttpMethod, RequestContext } from '@kubernetes/client-node/dist/gen/http/http.js';
export type { KubernetesObject } from '@kubernetes/client-node';
