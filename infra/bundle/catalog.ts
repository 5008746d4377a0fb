import { OperatorSettings } from '../settings';

/** A File-Based Catalog document (olm.package, olm.channel or olm.bundle). */
export type CatalogBlob = Record<string, unknown> & { schema: string };

export interface CatalogInput {
  readonly settings: OperatorSettings;
  /** The bundle's manifests, CSV first: become olm.bundle.object properties. */
  readonly objects: Array<Record<string, any>>;
  /**
   * Bundle image pinned by digest (published catalogs), or undefined for an
   * offline catalog that carries the manifests inline so OLM needs no unpack Job.
   */
  readonly bundleImage?: string;
  readonly iconSvg: string;
  readonly description: string;
}

/**
 * The File-Based Catalog for one package with one channel. Channel entries
 * are the only upgrade edges in FBC: each new version adds an entry that
 * `replaces` the previous one (none yet: 0.1.0 is the first release).
 */
export function renderCatalog(input: CatalogInput): CatalogBlob[] {
  const s = input.settings;
  const csv = input.objects.find((o) => o.kind === 'ClusterServiceVersion');
  if (!csv) throw new Error('catalog: the bundle has no ClusterServiceVersion');
  const crds = input.objects.filter((o) => o.kind === 'CustomResourceDefinition');
  const bundleName = csv.metadata.name as string;

  const gvks = crds.flatMap((crd) =>
    (crd.spec.versions as Array<{ name: string }>).map((v) => ({
      type: 'olm.gvk',
      value: { group: crd.spec.group, kind: crd.spec.names.kind, version: v.name },
    })),
  );
  const inline = input.bundleImage
    ? []
    : input.objects.map((o) => ({ type: 'olm.bundle.object', value: { data: Buffer.from(JSON.stringify(o)).toString('base64') } }));

  return [
    {
      schema: 'olm.package',
      name: s.packageName,
      defaultChannel: s.channel,
      description: input.description,
      icon: { base64data: Buffer.from(input.iconSvg).toString('base64'), mediatype: 'image/svg+xml' },
    },
    {
      schema: 'olm.channel',
      package: s.packageName,
      name: s.channel,
      entries: [{ name: bundleName }],
    },
    {
      schema: 'olm.bundle',
      name: bundleName,
      package: s.packageName,
      image: input.bundleImage ?? '',
      properties: [{ type: 'olm.package', value: { packageName: s.packageName, version: s.version } }, ...gvks, ...inline],
      relatedImages: (csv.spec.relatedImages as Array<{ name: string; image: string }>).map((r) => ({ name: r.name, image: r.image })),
    },
  ];
}
