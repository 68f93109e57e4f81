import { z } from 'zod';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
} as const;

export const DescriptorSchema = z.looseObject({
  mediaType: z.string(),
  digest: z.string(),
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
  platform: z.looseObject({ architecture: z.string(), os: z.string(), variant: z.string().optional() }).optional(),
});
export type Descriptor = z.infer<typeof DescriptorSchema>;

export const ManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export const IndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(DescriptorSchema),
});
export type ImageIndex = z.infer<typeof IndexSchema>;

const emptyObjectMap = z.record(z.string(), z.looseObject({}));

/** The runnable part of an image config (Docker's names). */
export const ContainerConfigSchema = z.looseObject({
  User: z.string().optional(),
  ExposedPorts: emptyObjectMap.nullish(),
  Env: z.array(z.string()).nullish(),
  Entrypoint: z.array(z.string()).nullish(),
  Cmd: z.array(z.string()).nullish(),
  Volumes: emptyObjectMap.nullish(),
  WorkingDir: z.string().optional(),
  Labels: z.record(z.string(), z.string()).nullish(),
  StopSignal: z.string().optional(),
});
export type ContainerConfig = z.infer<typeof ContainerConfigSchema>;

export const HistorySchema = z.looseObject({
  created: z.string().optional(),
  created_by: z.string().optional(),
  author: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});
export type HistoryEntry = z.infer<typeof HistorySchema>;

export const ImageConfigSchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  architecture: z.string(),
  os: z.string(),
  config: ContainerConfigSchema.optional(),
  rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(z.string()) }),
  history: z.array(HistorySchema).optional(),
});
export type ImageConfig = z.infer<typeof ImageConfigSchema>;

/** docker-archive manifest.json */
export const DockerArchiveManifestSchema = z.array(
  z.looseObject({ Config: z.string(), RepoTags: z.array(z.string()).nullish(), Layers: z.array(z.string()) }),
);

/** Changes applied to an image config on import or commit (docker import/commit --change). */
export const ConfigChangesSchema = z.object({
  Env: z.array(z.string()).optional(),
  Entrypoint: z.array(z.string()).nullable().optional(),
  Cmd: z.array(z.string()).nullable().optional(),
  WorkingDir: z.string().optional(),
  User: z.string().optional(),
  ExposedPorts: z.array(z.string()).optional(),
  Volumes: z.array(z.string()).optional(),
  Labels: z.record(z.string(), z.string()).optional(),
  StopSignal: z.string().optional(),
  /** ONBUILD triggers to add. */
  OnBuild: z.array(z.string()).optional(),
});
export type ConfigChanges = z.infer<typeof ConfigChangesSchema>;

export function applyConfigChanges(base: ContainerConfig, changes: ConfigChanges | undefined): ContainerConfig {
  if (!changes) return base;
  const c = ConfigChangesSchema.parse(changes);
  const out: ContainerConfig = { ...base };
  if (c.Env) {
    const env = new Map((out.Env ?? []).map((e) => [e.split('=')[0] ?? e, e]));
    for (const e of c.Env) env.set(e.split('=')[0] ?? e, e);
    out.Env = [...env.values()];
  }
  if (c.Entrypoint !== undefined) out.Entrypoint = c.Entrypoint;
  if (c.Cmd !== undefined) out.Cmd = c.Cmd;
  if (c.WorkingDir !== undefined) out.WorkingDir = c.WorkingDir;
  if (c.User !== undefined) out.User = c.User;
  if (c.StopSignal !== undefined) out.StopSignal = c.StopSignal;
  if (c.ExposedPorts) {
    out.ExposedPorts = { ...(out.ExposedPorts ?? {}) };
    for (const p of c.ExposedPorts) out.ExposedPorts[p.includes('/') ? p : `${p}/tcp`] = {};
  }
  if (c.Volumes) {
    out.Volumes = { ...(out.Volumes ?? {}) };
    for (const v of c.Volumes) out.Volumes[v] = {};
  }
  if (c.Labels) out.Labels = { ...(out.Labels ?? {}), ...c.Labels };
  if (c.OnBuild) out.OnBuild = [...(Array.isArray(out.OnBuild) ? (out.OnBuild as string[]) : []), ...c.OnBuild];
  return out;
}

export const goArch = (): string => ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' })[process.arch as string] ?? process.arch;
