/**
 * The controller image, built without a Docker daemon:
 *
 *   layer 1  base     /etc/{passwd,group,nsswitch.conf,os-release}, /tmp (1777),
 *                     /home/nonroot, CA bundle, and the shared libraries the Node
 *                     binary needs (glibc, libstdc++, libgcc_s), all from pinned
 *                     Debian packages (image/debian-packages.json);
 *   layer 2  runtime  /nodejs/bin/node: the project's Node (npm package `node`,
 *                     pinned in package.json), stripped;
 *   layer 3  app      /app/controller.js: controller/main.ts bundled by esbuild
 *                     into one CommonJS file, dependencies included.
 *
 * Layers are ordered by how often they change, so a controller change ships
 * (and pulls) only the ~1 MB app layer. No shell, no package manager; runs as
 * 65532:65532.
 */
import { build, type Metafile } from 'esbuild';
import { builtinModules } from 'node:module';
import { chmodSync, copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RELEASE } from '../infra/defaults';
import { debianBase, NONROOT_USER, type DebianBase } from './base';
import { SLIM_DEFINE, slimPlugin } from './bundle-slim';
import { cachePath, cachedDir, REPO_ROOT, run } from './cache';
import { buildImage, sha256, type BuildOptions, type BuiltImage, type ImageName, type ImageSpec, type LayerEntry } from './oci';

/** The controller's entry point, bundled into /app/controller.js. */
export const CONTROLLER_ENTRY = 'controller/main.ts';
/** The Node binary the project runs on (npm package `node`, version pinned in package.json). */
export const NODE_BINARY = 'node_modules/node/bin/node';
export const CONTROLLER_REPOSITORY = 'ghcr.io/flight-operator/controller';
/**
 * Node.js flags the image starts the controller with (npm run bench passes the
 * same). --no-node-snapshot: Node builds its start-up state from its own
 * sources instead of deserializing the whole built-in snapshot; the controller,
 * which loads few of Node's modules, then idles about 3.5 MiB lower (61.9-62.8
 * against 65.7-66.3 MiB, six runs each against a local API server) for about
 * 0.1 s more start-up. --expose-gc: lets controller/runtime/idle-gc.ts give
 * the heap a burst grew back once the queue is quiet (about 10 MiB holding
 * 1,000 tickets). docs/scale.md, Memory, has the figures.
 */
export const CONTROLLER_NODE_FLAGS: readonly string[] = ['--no-node-snapshot', '--expose-gc'];
export const METRICS_PORT = 8080;
export const HEALTH_PORT = 8081;

/** Bare-name imports esbuild may leave unresolved: optional peers loaded inside try/catch (ws). */
const OPTIONAL_EXTERNALS = new Set(['bufferutil', 'utf-8-validate']);

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export function controllerImageName(): ImageName {
  return { repository: CONTROLLER_REPOSITORY, tag: packageVersion() };
}

export interface BundleOptions {
  entry?: string;
  /** Minify whitespace and syntax. Default true. */
  minify?: boolean;
  /**
   * Also shorten identifiers. Default false: it saves only ~45 KiB compressed
   * (of 42 MiB) and would turn stack traces in the logs into "at RB.process".
   */
  minifyIdentifiers?: boolean;
  /** Emit /app/controller.js.map and run node with --enable-source-maps. Default false. */
  sourcemap?: boolean;
  /** Leave out what image/bundle-slim.ts lists. Default true; false only to measure what it saves. */
  slim?: boolean;
}

export interface ControllerBundle {
  js: Buffer;
  /** Licence comments esbuild pulled out of the bundled dependencies. */
  legal?: Buffer;
  map?: Buffer;
  /** npm packages in the bundle, name -> bytes in output. */
  packages: Record<string, number>;
  /** esbuild's account of every input and how many bytes of the output it became. */
  metafile?: Metafile;
}

/**
 * Bundles the controller into one CommonJS file for Node 24. Deterministic:
 * esbuild's output depends only on the sources and options (paths in it are
 * relative to the repo root). @kubernetes/client-node 2.x is ESM-only;
 * esbuild converts it. Fails on anything that would break at run time in the
 * image: an unresolved bare import outside OPTIONAL_EXTERNALS, or
 * `import.meta` left empty by the ESM -> CJS conversion.
 */
export async function bundleController(opts: BundleOptions = {}): Promise<ControllerBundle> {
  const entry = opts.entry ?? CONTROLLER_ENTRY;
  if (!existsSync(join(REPO_ROOT, entry))) throw new Error(`controller entry ${entry} does not exist`);
  const minify = opts.minify ?? true;
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [entry],
    outfile: 'app/controller.js',
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    minifyWhitespace: minify,
    minifySyntax: minify,
    minifyIdentifiers: minify && (opts.minifyIdentifiers ?? false),
    keepNames: true,
    sourcemap: opts.sourcemap ? 'linked' : false,
    sourcesContent: false,
    legalComments: minify ? 'external' : 'inline',
    charset: 'ascii',
    metafile: true,
    write: false,
    logLevel: 'silent',
    ...(opts.slim === false ? {} : { plugins: [slimPlugin], define: SLIM_DEFINE }),
  });
  const problems = result.warnings.filter((w) => /import\.meta|Could not resolve|will not be bundled/i.test(w.text));
  if (problems.length) throw new Error(`esbuild: ${problems.map((w) => `${w.location?.file ?? ''}:${w.location?.line ?? ''} ${w.text}`).join('\n')}`);
  const out = (suffix: string) => result.outputFiles.find((f) => f.path.endsWith(`app/controller.js${suffix}`));
  const js = out('');
  if (!js) throw new Error('esbuild produced no controller.js');
  checkExternals(result.metafile);
  const legal = out('.LEGAL.txt');
  const map = out('.map');
  return {
    js: Buffer.from(js.contents),
    ...(legal && legal.contents.length ? { legal: Buffer.from(legal.contents) } : {}),
    ...(map ? { map: Buffer.from(map.contents) } : {}),
    packages: packageSizes(result.metafile),
    metafile: result.metafile,
  };
}

/**
 * The most the controller bundle may weigh (bytes of app/controller.js). Loaded
 * code is most of the controller's idle RSS (docs/scale.md, Memory): 2.15 MB
 * with client-node's whole generated API loaded 77 MiB, 565 KB loads 59 MiB.
 * image/controller-bundle-budget.test.ts fails past it and names what grew.
 */
export const CONTROLLER_BUNDLE_BUDGET_BYTES = 600_000;

/** Every input of the bundle and the bytes of output it became, largest first (from esbuild's metafile). */
export function bundleContents(meta: Metafile): Array<{ input: string; bytes: number }> {
  const out: Array<{ input: string; bytes: number }> = [];
  for (const [name, output] of Object.entries(meta.outputs)) {
    if (!name.endsWith('.js')) continue;
    for (const [input, v] of Object.entries(output.inputs)) out.push({ input: input.replace(/^.*node_modules\//, ''), bytes: v.bytesInOutput });
  }
  return out.sort((a, b) => b.bytes - a.bytes);
}

function checkExternals(meta: Metafile): void {
  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  const bad = new Set<string>();
  for (const output of Object.values(meta.outputs)) {
    for (const imp of output.imports) {
      if (!imp.external) continue;
      const name = imp.path.startsWith('node:') ? imp.path : imp.path.split('/').slice(0, imp.path.startsWith('@') ? 2 : 1).join('/');
      if (builtins.has(imp.path) || builtins.has(name) || OPTIONAL_EXTERNALS.has(name)) continue;
      bad.add(imp.path);
    }
  }
  if (bad.size) throw new Error(`the controller bundle would require modules that are not in the image: ${[...bad].join(', ')}`);
}

function packageSizes(meta: Metafile): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const output of Object.values(meta.outputs)) {
    for (const [input, v] of Object.entries(output.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const key = m ? m[1] : '(project)';
      sizes[key] = (sizes[key] ?? 0) + v.bytesInOutput;
    }
  }
  return Object.fromEntries(Object.entries(sizes).sort((a, b) => b[1] - a[1]));
}

export interface NodeRuntime {
  /** Host path of the stripped binary (cached), for readelf. */
  path: string;
  binary: Buffer;
  /** e.g. v24.21.0 */
  version: string;
  /** e.g. "GNU strip (GNU Binutils for Debian) 2.40" */
  strip: string;
}

/**
 * The project's Node binary without symbols (126 MB -> 108 MB), cached by the
 * input's sha256 and the strip version. strip is deterministic: the same
 * binutils gives the same bytes (Debian bookworm: binutils 2.40).
 */
export function strippedNode(source = join(REPO_ROOT, NODE_BINARY)): NodeRuntime {
  if (!existsSync(source)) throw new Error(`${source} is missing: run npm ci (the npm package "node" provides the runtime)`);
  let stripVersion: string;
  try {
    stripVersion = run('strip', ['--version']).stdout.split('\n')[0].trim();
  } catch (e) {
    throw new Error(`${(e as Error).message}\nInstall binutils (apt-get install binutils) for strip and readelf.`);
  }
  const version = run(source, ['--version']).stdout.trim();
  const inputHash = sha256(readFileSync(source));
  const dir = cachedDir(cachePath('node', `${version}-${inputHash.slice(0, 16)}-${sha256(stripVersion).slice(0, 8)}`), (tmp) => {
    const out = join(tmp, 'node');
    copyFileSync(source, join(tmp, 'node.in'));
    run('strip', ['--strip-all', '-o', out, join(tmp, 'node.in')]);
    rmSync(join(tmp, 'node.in'));
    chmodSync(out, 0o755);
    const v = run(out, ['--version']).stdout.trim();
    if (v !== version) throw new Error(`stripped node reports ${v}, expected ${version}`);
  });
  const path = join(dir, 'node');
  return { path, binary: readFileSync(path), version, strip: stripVersion };
}

export interface ControllerImageInputs {
  bundle: ControllerBundle;
  node: { binary: Buffer; version: string; strip: string };
  base: DebianBase;
  version: string;
  sourcemap?: boolean;
}

export const CONTROLLER_DESCRIPTION = 'Books, changes and cancels flight tickets declared as FlightTicket resources.';

/** The image for the given inputs: pure, so tests can feed small stand-ins. */
export function controllerImageSpec(inputs: ControllerImageInputs, epoch?: number): ImageSpec {
  const app: LayerEntry[] = [
    { type: 'file', path: 'app/controller.js', content: inputs.bundle.js, mode: 0o644 },
    { type: 'file', path: 'app/package.json', content: `${JSON.stringify({ name: 'flight-operator-controller', version: inputs.version, private: true, type: 'commonjs' })}\n`, mode: 0o644 },
  ];
  if (inputs.bundle.legal) app.push({ type: 'file', path: 'app/controller.js.LEGAL.txt', content: inputs.bundle.legal, mode: 0o644 });
  if (inputs.bundle.map) app.push({ type: 'file', path: 'app/controller.js.map', content: inputs.bundle.map, mode: 0o644 });
  const node = ['/nodejs/bin/node', ...CONTROLLER_NODE_FLAGS, ...(inputs.sourcemap && inputs.bundle.map ? ['--enable-source-maps'] : [])];
  return {
    ...(epoch !== undefined ? { epoch } : {}),
    layers: [
      { entries: inputs.base.entries, createdBy: 'image/base.ts: users, nsswitch, /tmp, CA bundle, shared libraries', comment: `debian bookworm: ${inputs.base.packages.join(' ')}` },
      { entries: [{ type: 'file', path: 'nodejs/bin/node', content: inputs.node.binary, mode: 0o755 }], createdBy: `image/controller-image.ts: Node.js ${inputs.node.version}`, comment: `npm package node@${inputs.node.version.replace(/^v/, '')}, strip --strip-all (${inputs.node.strip})` },
      { entries: app, createdBy: `image/controller-image.ts: esbuild bundle of ${CONTROLLER_ENTRY}` },
    ],
    config: {
      User: NONROOT_USER,
      ExposedPorts: [`${METRICS_PORT}/tcp`, `${HEALTH_PORT}/tcp`],
      Env: ['PATH=/nodejs/bin', 'NODE_ENV=production', 'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'],
      Entrypoint: [...node, '/app/controller.js'],
      WorkingDir: '/app',
      Labels: {
        'org.opencontainers.image.title': 'flight-operator-controller',
        'org.opencontainers.image.description': CONTROLLER_DESCRIPTION,
        'org.opencontainers.image.version': inputs.version,
        'org.opencontainers.image.source': RELEASE.repository,
        'org.opencontainers.image.licenses': 'Apache-2.0',
        // No org.opencontainers.image.revision: a commit id would change the digest of
        // identical content. The digest itself identifies what was built (docs/images.md).
      },
    },
  };
}

export interface ControllerImageOptions extends BundleOptions, BuildOptions {
  epoch?: number;
}

export interface ControllerImageResult {
  image: BuiltImage;
  name: ImageName;
  bundle: ControllerBundle;
  node: NodeRuntime;
  base: DebianBase;
}

/** Resolves the real inputs (bundle, stripped Node, pinned Debian files) and builds the image. */
export async function buildControllerImage(opts: ControllerImageOptions = {}): Promise<ControllerImageResult> {
  const bundle = await bundleController(opts);
  const node = strippedNode();
  const base = debianBase({ binaries: [node.path] });
  const version = packageVersion();
  const spec = controllerImageSpec({ bundle, node, base, version, sourcemap: opts.sourcemap }, opts.epoch);
  const image = await buildImage(spec, { gzipLevel: opts.gzipLevel, blobCache: opts.blobCache ?? cachePath('layers') });
  return { image, name: controllerImageName(), bundle, node, base };
}
