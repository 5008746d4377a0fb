import { bundleContents, bundleController, CONTROLLER_BUNDLE_BUDGET_BYTES } from './controller-image';

/**
 * The controller's bundle stays small because most of its idle memory is the
 * code it loads (docs/scale.md, Memory). Past the budget this fails and lists
 * the largest inputs, from esbuild's metafile, so the change that grew it shows.
 */
describe('the controller bundle', () => {
  let bundle: Awaited<ReturnType<typeof bundleController>>;
  beforeAll(async () => {
    bundle = await bundleController();
  }, 60_000);

  it(`weighs at most ${CONTROLLER_BUNDLE_BUDGET_BYTES} bytes`, () => {
    const top = bundleContents(bundle.metafile!)
      .slice(0, 15)
      .map((c) => `${String(c.bytes).padStart(8)}  ${c.input}`)
      .join('\n');
    if (bundle.js.length > CONTROLLER_BUNDLE_BUDGET_BYTES) {
      throw new Error(`app/controller.js is ${bundle.js.length} bytes, over the budget of ${CONTROLLER_BUNDLE_BUDGET_BYTES} (image/controller-image.ts). Largest inputs:\n${top}`);
    }
    process.stderr.write(`controller bundle: ${bundle.js.length} of ${CONTROLLER_BUNDLE_BUDGET_BYTES} bytes; largest inputs:\n${top}\n`);
  });

  it("holds none of the client-node, undici and prom-client code the controller never runs (image/bundle-slim.ts)", () => {
    const inputs = bundleContents(bundle.metafile!).map((c) => c.input);
    const leftOut = [
      /@kubernetes\/client-node\/dist\/gen\/(models|apis\/[A-Z]|types)\//, // the generated API
      /@kubernetes\/client-node\/dist\/(watch|index|exec|attach|cp|portforward|web-socket-handler)\.js$/,
      /undici\/lib\/(web|cache|mock|interceptor)\//, // fetch, WebSocket, caches, mocks
      /undici\/lib\/milo\//,
      /^(openid-client|oauth4webapi|jsonpath-plus|hpagent|socks|socks-proxy-agent|ip-address|ws|tar-fs|@opentelemetry\/api)\//,
    ];
    expect(inputs.filter((i) => leftOut.some((re) => re.test(i)))).toEqual([]);
    // What it is for: client-node's KubeConfig and undici's Agent are in.
    expect(inputs).toContain('@kubernetes/client-node/dist/config.js');
    expect(inputs).toContain('undici/lib/dispatcher/agent.js');
  });
});
