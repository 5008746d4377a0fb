/**
 * One watch stream (GET ...?watch=true), newline-delimited JSON events.
 *
 * Does what client-node's Watch (2.0.1, dist/watch.js) does, with undici's
 * `dispatcher.request()` instead of its `fetch`: the WHATWG fetch machinery
 * (Request, Response, Headers, web streams) is about a quarter of undici's
 * code in the controller's bundle and is used for nothing else
 * (docs/scale.md, Memory). Kept from Watch: client-node's authentication per
 * stream, its own connection per stream (KubeConfig gives each request
 * context a fresh Agent), a timer that aborts a stream silent for
 * `idleTimeoutMs` counted from the request, and `done` called exactly once
 * (undefined for a clean end, else the error; a non-200 answer's error
 * carries `statusCode`). Different: the stream's Agent is closed when it
 * ends, instead of being left to the garbage collector with its socket.
 */
import { STATUS_CODES } from 'node:http';
import { getGlobalDispatcher, type Dispatcher } from 'undici';
import { HttpMethod, RequestContext, type KubeConfig } from './client-node';
import { USER_AGENT } from './headers';

export type WatchQuery = Record<string, string | number | boolean | undefined>;

export interface WatchStreamOptions {
  /** Abort a stream that delivers nothing (headers included) for this long. */
  idleTimeoutMs: number;
}

/** Starts the stream; resolves with a function that aborts it (done then still runs once, at most). */
export async function watchStream(
  kc: KubeConfig,
  path: string,
  query: WatchQuery,
  onEvent: (type: string, obj: any) => void,
  done: (err?: unknown) => void,
  opts: WatchStreamOptions,
): Promise<() => void> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server + path);
  url.searchParams.set('watch', 'true');
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));

  const ctx = new RequestContext(url.toString(), HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  const own: Dispatcher | undefined = ctx.getDispatcher();
  const dispatcher = own ?? getGlobalDispatcher();

  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  let ended = false;
  const end = (err?: unknown) => {
    if (ended) return;
    ended = true;
    clearTimeout(timer);
    ctl.abort();
    // destroy, not close: the one request this Agent carried is over either way.
    if (own) void own.destroy().catch(() => undefined);
    done(err && timedOut ? new DOMException('The operation was aborted due to timeout', 'TimeoutError') : err);
  };
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      end(new Error('watch idle'));
    }, opts.idleTimeoutMs);
    timer.unref();
  };

  arm();
  const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': USER_AGENT, ...ctx.getHeaders() };
  dispatcher.request({ origin: url.origin, path: `${url.pathname}${url.search}`, method: 'GET', headers, signal: ctl.signal }).then(
    (res) => {
      if (ended) {
        res.body.destroy();
        return;
      }
      if (res.statusCode !== 200) {
        res.body.resume(); // the error body is not needed; let undici finish the exchange
        end(Object.assign(new Error(STATUS_CODES[res.statusCode] ?? `HTTP ${res.statusCode}`), { statusCode: res.statusCode }));
        return;
      }
      arm();
      let rest = '';
      res.body.setEncoding('utf8');
      res.body.on('data', (chunk: string) => {
        arm();
        rest += chunk;
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (!line.trim()) continue;
          let ev: { type?: string; object?: unknown };
          try {
            ev = JSON.parse(line);
          } catch {
            continue; // as client-node's Watch: a line that is not JSON is skipped
          }
          if (ended) return;
          try {
            onEvent(ev.type ?? '', ev.object);
          } catch (err) {
            // client-node's Watch swallowed these; ending the stream lets the caller see and retry.
            end(err);
            return;
          }
        }
      });
      res.body.on('end', () => end());
      res.body.on('error', (err) => end(err));
      res.body.on('close', () => end());
    },
    (err: unknown) => end(err),
  );
  return () => end();
}
