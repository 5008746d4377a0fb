import { OperatorSettings } from '../settings';

/** A File-Based Catalog document (olm.package, olm.channel or olm.bundle). */
export type CatalogBlob = Record<string, unknown> & { schema: string };

export interface CatalogBundle {
  readonly settings: OperatorSettings;
  /** The bundle's manifests, CSV first: become olm.bundle.object properties. */
  readonly objects: Array<Record<string, any>>;
  /**
   * Bundle image pinned by digest (published catalogs), or undefined for an
   * offline catalog that carries the manifests inline so OLM needs no unpack Job.
   */
  readonly bundleImage?: string;
}

export interface CatalogInput {
  /** Every release in the channel, oldest first; the last one is the channel head. */
  readonly bundles: readonly CatalogBundle[];
  readonly iconSvg: string;
  readonly description: string;
}

/**
 * The File-Based Catalog for one package with one channel. Channel entries
 * are the only upgrade edges in FBC: each release's entry carries the
 * `replaces` and `skipRange` its CSV declares, so the catalog and the CSVs
 * cannot disagree about the upgrade graph.
 */
export function renderCatalog(input: CatalogInput): CatalogBlob[] {
  if (!input.bundles.length) throw new Error('catalog: no bundles');
  const head = input.bundles[input.bundles.length - 1].settings;
  const bundles = input.bundles.map((b) => {
    if (b.settings.packageName !== head.packageName || b.settings.channel !== head.channel) {
      throw new Error(`catalog: bundle ${b.settings.version} is for ${b.settings.packageName}/${b.settings.channel}, not ${head.packageName}/${head.channel}`);
    }
    const csv = b.objects.find((o) => o.kind === 'ClusterServiceVersion');
    if (!csv) throw new Error(`catalog: bundle ${b.settings.version} has no ClusterServiceVersion`);
    return { ...b, csv };
  });

  return [
    {
      schema: 'olm.package',
      name: head.packageName,
      defaultChannel: head.channel,
      description: input.description,
      icon: { base64data: Buffer.from(input.iconSvg).toString('base64'), mediatype: 'image/svg+xml' },
    },
    {
      schema: 'olm.channel',
      package: head.packageName,
      name: head.channel,
      entries: bundles.map(({ csv }) => ({
        name: csv.metadata.name as string,
        ...(csv.spec.replaces ? { replaces: csv.spec.replaces as string } : {}),
        ...(csv.metadata.annotations?.['olm.skipRange'] ? { skipRange: csv.metadata.annotations['olm.skipRange'] as string } : {}),
      })),
    },
    ...bundles.map((b) => bundleBlob(b, b.csv)),
  ];
}

function bundleBlob(b: CatalogBundle, csv: Record<string, any>): CatalogBlob {
  const s = b.settings;
  const crds = b.objects.filter((o) => o.kind === 'CustomResourceDefinition');
  const gvks = crds.flatMap((crd) =>
    (crd.spec.versions as Array<{ name: string }>).map((v) => ({
      type: 'olm.gvk',
      value: { group: crd.spec.group, kind: crd.spec.names.kind, version: v.name },
    })),
  );
  const inline = b.bundleImage
    ? []
    : b.objects.map((o) => ({ type: 'olm.bundle.object', value: { data: Buffer.from(JSON.stringify(o)).toString('base64') } }));
  return {
    schema: 'olm.bundle',
    name: csv.metadata.name as string,
    package: s.packageName,
    image: b.bundleImage ?? '',
    properties: [{ type: 'olm.package', value: { packageName: s.packageName, version: s.version } }, ...gvks, ...inline],
    relatedImages: (csv.spec.relatedImages as Array<{ name: string; image: string }>).map((r) => ({ name: r.name, image: r.image })),
  };
}
