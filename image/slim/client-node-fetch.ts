/**
 * Stand-in for client-node's dist/gen/http/isomorphic-fetch.js in the
 * controller's bundle (image/bundle-slim.ts): the generated clients' HTTP
 * library, on undici's fetch. The controller sends with its own transport
 * (controller/runtime/client.ts); gen/http/http.js re-exports this module,
 * and the RequestContext the controller takes from there does not need it.
 */
export class IsomorphicFetchHttpLibrary {
  send(): never {
    throw new Error("client-node's fetch HTTP library is not in the controller bundle (image/bundle-slim.ts)");
  }
}
