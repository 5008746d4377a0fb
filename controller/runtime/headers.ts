/** Shared by the HTTP clients that send with undici's request() instead of fetch. */

/** Fetch's view of undici's response headers: one string per (lower-case) name, repeated ones joined with ", ". */
export function flatHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in h) {
    const v = h[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** Sent as undici's fetch sent it, so the apiserver's audit log and metrics see no change. */
export const USER_AGENT = 'undici';
