/**
 * Stand-in for undici's WHATWG FormData support (lib/web/fetch/formdata,
 * lib/web/webidl, lib/web/fetch/body.js) where its request code loads it, in
 * the controller's bundle (image/bundle-slim.ts). Only a FormData request body
 * needs it; the controller sends strings. undici then rejects a FormData body
 * with its own "body must be a FormData created by this undici package
 * instance" error.
 */
export const webidl = { is: { FormData: (): boolean => false } };

export function extractBody(): never {
  throw new Error("undici's FormData bodies are not in the controller bundle (image/bundle-slim.ts)");
}
