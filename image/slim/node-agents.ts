/**
 * Stand-ins for hpagent and socks-proxy-agent in the controller's bundle
 * (image/bundle-slim.ts). client-node builds these node:http agents only in
 * KubeConfig.createAgent, for its WebSocket features (exec, attach,
 * port-forward), which the controller does not use. The controller's requests
 * go through undici dispatchers: KubeConfig.createDispatcher, whose proxy-url
 * support (undici's ProxyAgent, and `socks` for socks5://) stays in.
 */
function unavailable(name: string) {
  return class {
    constructor() {
      throw new Error(`${name} is not in the controller bundle (image/bundle-slim.ts): KubeConfig.createAgent is for client-node's WebSocket features`);
    }
  };
}

export const HttpProxyAgent = unavailable('hpagent');
export const HttpsProxyAgent = unavailable('hpagent');
export const SocksProxyAgent = unavailable('socks-proxy-agent');
