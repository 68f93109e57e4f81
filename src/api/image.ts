import { z } from 'zod';
import type { KindInfo } from './kind.js';
import { objectMeta } from './meta.js';
import {
  absolutePath,
  conditions,
  exactlyOne,
  listMap,
  localObjectReference,
  nodeName,
  nodeSelector,
  observedGeneration,
  relativePath,
  timestamp,
} from './fields.js';
import { contentDigest, imageRef } from './imageref.js';
import { ageColumn, defaulterFor, listMapKeysFor } from './kindparts.js';

export const pullSource = z.strictObject({
  secretRef: localObjectReference
    .optional()
    .describe('Registry credentials: a Secret of type kubernetes.io/dockerconfigjson in the same namespace. Without it the node uses its own credentials (berth login), if any.'),
});
export type PullSource = z.infer<typeof pullSource>;

export const gitContext = z.strictObject({
  url: z
    .string()
    .min(1)
    .regex(/^\S+$/, { message: 'must be a git URL without spaces' })
    .describe('Repository URL, as git clone accepts it (https://, ssh://, git@host:path, file:// or a path on the node).'),
  ref: z.string().min(1).optional().describe("Branch, tag or commit to build; the repository's default branch when omitted."),
  path: relativePath.optional().describe('Directory inside the repository to use as the build context; its root when omitted.'),
});
export type GitContext = z.infer<typeof gitContext>;

export const buildContext = exactlyOne(
  z.strictObject({
    git: gitContext.optional().describe('Build from a git repository. Exactly one of git and dir.'),
    dir: absolutePath.optional().describe('Build from this directory on the node. Exactly one of git and dir.'),
  }),
  ['git', 'dir'],
);
export type BuildContext = z.infer<typeof buildContext>;

export const buildSource = z.strictObject({
  context: buildContext.describe('Where the build context (the files COPY and ADD see) comes from.'),
  dockerfile: relativePath
    .default('Dockerfile')
    .describe('Path of the Dockerfile inside the context (docker build -f). Defaults to Dockerfile.'),
  buildArgs: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be an ARG name' }), z.string())
    .optional()
    .describe('Values for ARG instructions (docker build --build-arg).'),
  target: z.string().min(1).optional().describe('Build up to this stage of a multi-stage Dockerfile (docker build --target).'),
  noCache: z.boolean().optional().describe('Do not reuse cached layers (docker build --no-cache).'),
  network: z
    .enum(['none', 'host'])
    .default('none')
    .describe("Network for RUN steps: none, or host to share the node's network. Defaults to none."),
});
export type BuildSource = z.infer<typeof buildSource>;

export const importSource = exactlyOne(
  z.strictObject({
    path: absolutePath.optional().describe('Tarball on the node. Exactly one of path and url.'),
    url: z
      .string()
      .regex(/^https?:\/\/\S+$/, { message: 'must be an http:// or https:// URL' })
      .optional()
      .describe('Tarball to download. Exactly one of path and url.'),
    format: z
      .enum(['rootfs', 'docker-archive', 'oci-archive'])
      .optional()
      .describe('rootfs (a filesystem tarball, docker import), docker-archive (docker save) or oci-archive. Detected from the content when omitted.'),
    changes: z
      .array(z.string())
      .optional()
      .describe('Dockerfile instructions applied to a rootfs import, e.g. CMD ["/bin/sh"] (docker import --change).'),
  }),
  ['path', 'url'],
);
export type ImportSource = z.infer<typeof importSource>;

export const imageSource = exactlyOne(
  z.strictObject({
    pull: pullSource.optional().describe('Pull the image from its registry. The default.'),
    build: buildSource.optional().describe('Build the image from a Dockerfile on the node (docker build).'),
    import: importSource.optional().describe('Import the image from a tarball (docker import / docker load).'),
  }),
  ['pull', 'build', 'import'],
);
export type ImageSource = z.infer<typeof imageSource>;

export const imageSpec = z.strictObject({
  ref: imageRef.describe(
    'Image reference [registry/]repository[:tag][@digest], e.g. busybox:1.36 or registry.example:5000/team/app@sha256:... Kept as written; the tag defaults to latest when there is neither tag nor digest, and a reference without a registry means docker.io.',
  ),
  source: imageSource
    .prefault({ pull: {} })
    .describe('Where the image comes from: exactly one of pull (the default), build or import.'),
  pullPolicy: z
    .enum(['Always', 'IfNotPresent', 'Never'])
    .default('IfNotPresent')
    .describe('Always: pull on every reconcile and when the tag moves; IfNotPresent: only when the node lacks it; Never: use only what the node has. Defaults to IfNotPresent.'),
  nodeName: nodeName.optional().describe('Make the image present on this node only. Without nodeName and nodeSelector, the nodes whose containers use it.'),
  nodeSelector: nodeSelector.optional(),
});
export type ImageSpec = z.infer<typeof imageSpec>;

export const imagePhases = ['Pending', 'Pulling', 'Building', 'Importing', 'Ready', 'Failed'] as const;
export type ImagePhase = (typeof imagePhases)[number];

export const imageLayer = z.strictObject({
  digest: contentDigest.describe('Digest of the compressed layer blob.'),
  size: z.number().int().min(0).describe('Size of the layer blob in bytes.'),
  mediaType: z.string().optional().describe('Media type of the layer blob.'),
});
export type ImageLayer = z.infer<typeof imageLayer>;

export const imageNodeStatus = z.strictObject({
  nodeName: z.string().describe('The node.'),
  present: z.boolean().describe('Whether the node has the image.'),
  digest: z.string().optional().describe('Manifest digest of the image on that node.'),
  pulledAt: timestamp.optional().describe('When the node last pulled, built or imported it.'),
  message: z.string().optional().describe('Why the image is missing, when it is.'),
});
export type ImageNodeStatus = z.infer<typeof imageNodeStatus>;

export const imageConfigSummary = z.strictObject({
  entrypoint: z.array(z.string()).optional().describe('ENTRYPOINT, in exec form.'),
  cmd: z.array(z.string()).optional().describe('CMD, in exec form.'),
  env: z.array(z.string()).optional().describe('ENV, as NAME=value entries.'),
  workingDir: z.string().optional().describe('WORKDIR.'),
  user: z.string().optional().describe('USER.'),
  exposedPorts: z.array(z.string()).optional().describe('EXPOSE, as port/protocol entries such as 80/tcp.'),
  volumes: z.array(z.string()).optional().describe('VOLUME paths; each gets an anonymous volume.'),
  labels: z.record(z.string(), z.string()).optional().describe('LABEL key/value pairs.'),
  stopSignal: z.string().optional().describe('STOPSIGNAL.'),
});
export type ImageConfigSummary = z.infer<typeof imageConfigSummary>;

export const imageStatus = z.strictObject({
  phase: z.enum(imagePhases).optional().describe('Pending, Pulling, Building, Importing, Ready or Failed.'),
  sourceType: z
    .enum(['Pull', 'Build', 'Import'])
    .optional()
    .describe('Which member of spec.source the image was last made from.'),
  digest: contentDigest.optional().describe('Digest of the image manifest (what image@digest references).'),
  shortDigest: z.string().optional().describe('First 12 hex digits of digest, for display.'),
  id: contentDigest.optional().describe('Image ID: digest of the image config, as docker images shows it.'),
  size: z.number().int().min(0).optional().describe('Total size of the layers in bytes.'),
  layers: z.array(imageLayer).optional().describe('Layers, base first.'),
  created: timestamp.optional().describe('When the image was created (its config\'s created time).'),
  config: imageConfigSummary.optional().describe('What a container started from the image runs by default.'),
  nodes: listMap(imageNodeStatus, ['nodeName']).optional().describe('Presence of the image on each node concerned.'),
  sourceRevision: z.string().optional().describe('For git builds: the commit the image was built from.'),
  buildLog: z.array(z.string()).optional().describe('The last lines of the most recent build log.'),
  conditions: conditions.optional(),
  observedGeneration: observedGeneration.optional(),
});
export type ImageStatus = z.infer<typeof imageStatus>;

export const image = z.strictObject({
  apiVersion: z.literal('berth.dev/v1alpha1'),
  kind: z.literal('Image'),
  metadata: objectMeta,
  spec: imageSpec.describe('Which image, and where it comes from.'),
  status: imageStatus.optional().describe('Observed state of the image on the nodes, written by the node agents.'),
});
export type Image = z.infer<typeof image>;
export type ImageInput = z.input<typeof image>;

export const applyImageDefaults = defaulterFor(image);

/** `sha256:0123456789abcdef...` -> `0123456789ab`. */
export function shortDigestOf(digest: string): string {
  const hex = digest.includes(':') ? digest.slice(digest.indexOf(':') + 1) : digest;
  return hex.slice(0, 12);
}

export const imageKind: KindInfo = {
  group: 'berth.dev',
  version: 'v1alpha1',
  kind: 'Image',
  listKind: 'ImageList',
  plural: 'images',
  singular: 'image',
  shortNames: ['img'],
  categories: ['berth'],
  namespaced: true,
  hasStatus: true,
  schema: image,
  specSchema: imageSpec,
  statusSchema: imageStatus,
  printerColumns: [
    { name: 'Ref', type: 'string', jsonPath: '.spec.ref', description: 'Image reference.' },
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'Observed phase.' },
    { name: 'Digest', type: 'string', jsonPath: '.status.shortDigest', description: 'Manifest digest, shortened.' },
    { name: 'Size', type: 'integer', jsonPath: '.status.size', description: 'Size in bytes.' },
    ageColumn,
    { name: 'Source', type: 'string', jsonPath: '.status.sourceType', description: 'Pull, Build or Import.', priority: 1 },
  ],
  applyDefaults: applyImageDefaults,
  selectableFields: ['spec.nodeName'],
  listMapKeys: listMapKeysFor(image),
  description:
    'An Image is a layered, read-only filesystem plus the config that says what to run, made present on nodes by pulling it from a registry, building it from a Dockerfile, or importing a tarball. Containers started from it share its layers.',
};
