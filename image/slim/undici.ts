/**
 * Stand-in for `undici` in the controller's bundle (image/bundle-slim.ts): the
 * Agent, ProxyAgent, EnvHttpProxyAgent (the booking client behind HTTP(S)_PROXY)
 * and request() that the controller's HTTP clients and
 * client-node's KubeConfig use, from undici's own modules, without what its
 * index loads besides (fetch, WebSocket, EventSource, caches, mocks, interceptors).
 * A name not exported here fails the bundle build (esbuild: no matching export).
 */
import type * as undici from 'undici';

export const Dispatcher: typeof undici.Dispatcher = require('undici/lib/dispatcher/dispatcher');
export const Agent: typeof undici.Agent = require('undici/lib/dispatcher/agent');
export const ProxyAgent: typeof undici.ProxyAgent = require('undici/lib/dispatcher/proxy-agent');
export const EnvHttpProxyAgent: typeof undici.EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent');
const global: { getGlobalDispatcher: typeof undici.getGlobalDispatcher; setGlobalDispatcher: typeof undici.setGlobalDispatcher } = require('undici/lib/global');
export const getGlobalDispatcher = global.getGlobalDispatcher;
export const setGlobalDispatcher = global.setGlobalDispatcher;
export const errors: typeof undici.errors = require('undici/lib/core/errors');

// undici's index does Object.assign(Dispatcher.prototype, api). request() is the one the
// controller sends with; ProxyAgent opens its tunnels with connect() (HTTP CONNECT).
Object.assign(Dispatcher.prototype, { request: require('undici/lib/api/api-request'), connect: require('undici/lib/api/api-connect') });
