import { z } from 'zod';
import { SecurityOptionsSchema } from '../security/isolation.js';
import { LogOptionsSchema } from './log-files.js';

export const MountOptionSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('volume'),
    /** Volume name; omitted for an anonymous volume. */
    source: z.string().optional(),
    target: z.string().startsWith('/', 'target must be an absolute path'),
    readOnly: z.boolean().optional(),
    /** Mount only this path inside the volume (volumes/subpath.ts: no symlink may be on the way). */
    subPath: z.string().optional(),
  }),
  z.object({
    type: z.literal('bind'),
    source: z.string().startsWith('/', 'source must be an absolute host path'),
    target: z.string().startsWith('/', 'target must be an absolute path'),
    readOnly: z.boolean().optional(),
    subPath: z.string().optional(),
  }),
]);
export type MountOption = z.infer<typeof MountOptionSchema>;

/** Docker's container names; also what makes a name safe as a file name in the name index. */
export const CONTAINER_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export const CreateOptionsSchema = z.object({
  name: z.string().regex(CONTAINER_NAME_RE, 'name must match [a-zA-Z0-9][a-zA-Z0-9_.-]*').optional(),
  image: z.string().min(1),
  /** Replaces the image ENTRYPOINT (and drops its CMD unless args are given). */
  command: z.array(z.string()).optional(),
  /** Replaces the image CMD. */
  args: z.array(z.string()).optional(),
  env: z.array(z.string()).optional(),
  workingDir: z.string().startsWith('/', 'workingDir must be absolute').optional(),
  user: z.string().optional(),
  hostname: z.string().max(63).optional(),
  /**
   * none: its own namespace with loopback only; host: the node's; bridge: its own namespace on
   * `networks` (network service), with `ports` published; container: the namespace of `networkContainer`.
   */
  network: z.enum(['none', 'host', 'bridge', 'container']).default('none'),
  networkContainer: z.string().optional(),
  networks: z.array(z.object({ name: z.string(), aliases: z.array(z.string()).default([]), ipv4Address: z.string().optional() })).default([]),
  ports: z
    .array(z.object({ containerPort: z.number().int().min(1).max(65535), hostPort: z.number().int().min(0).max(65535), protocol: z.enum(['tcp', 'udp']).default('tcp'), hostIP: z.string().optional() }))
    .default([]),
  mounts: z.array(MountOptionSchema).default([]),
  volumesFrom: z.array(z.object({ container: z.string(), readOnly: z.boolean().optional() })).default([]),
  resources: z
    .object({
      memoryBytes: z.number().int().min(6 * 1024 * 1024, 'memoryBytes must be at least 6 MiB').optional(),
      cpus: z.number().positive().optional(),
      pids: z.number().int().positive().optional(),
    })
    .default({}),
  readOnlyRootfs: z.boolean().default(false),
  labels: z.record(z.string(), z.string()).default({}),
  stopSignal: z.string().optional(),
  stopTimeoutSeconds: z.number().int().nonnegative().optional(),
  /** Capabilities, seccomp, privileged, runAsNonRoot (security/isolation.ts). */
  security: SecurityOptionsSchema.default({ capAdd: [], capDrop: [], privileged: false, seccomp: 'default', runAsNonRoot: false }),
  /** Log size cap and rotation (log-files.ts): Docker's max-size and max-file. */
  log: LogOptionsSchema.default({ maxSizeBytes: 10 << 20, maxFiles: 3 }),
  /** The process gets a terminal (docker run -t); attach and logs see its output as stdout. */
  tty: z.boolean().default(false),
  /** Keep the process's stdin open for attach (docker run -i): conmon holds it. */
  stdin: z.boolean().default(false),
  /** The first attach that ends its input closes the process's stdin (docker run -i attached: StdinOnce). */
  stdinOnce: z.boolean().default(false),
});
export type CreateOptions = z.input<typeof CreateOptionsSchema>;
export type CreateSpec = z.infer<typeof CreateOptionsSchema>;

/** One mount as resolved at create time (volume names turned into host paths). */
export const ResolvedMountSchema = z.object({
  type: z.enum(['volume', 'bind']),
  name: z.string().optional(),
  source: z.string(),
  target: z.string(),
  readOnly: z.boolean(),
  anonymous: z.boolean().default(false),
  /** A subPath mount: `source` is its staging point, bind-mounted from `path` below `base` (volumes/subpath.ts). */
  subPathOf: z.object({ base: z.string(), path: z.string() }).optional(),
});
export type ResolvedMount = z.infer<typeof ResolvedMountSchema>;
