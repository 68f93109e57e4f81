import { z } from 'zod';

export const MountOptionSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('volume'),
    /** Volume name; omitted for an anonymous volume. */
    source: z.string().optional(),
    target: z.string().startsWith('/', 'target must be an absolute path'),
    readOnly: z.boolean().optional(),
  }),
  z.object({
    type: z.literal('bind'),
    source: z.string().startsWith('/', 'source must be an absolute host path'),
    target: z.string().startsWith('/', 'target must be an absolute path'),
    readOnly: z.boolean().optional(),
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
  network: z.enum(['none', 'host']).default('none'),
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
});
export type ResolvedMount = z.infer<typeof ResolvedMountSchema>;
