/**
 * Docker Engine API's ContainerCreate body (Config + HostConfig + NetworkingConfig), the shape both
 * fronts speak: the Docker API front receives it, `berth run`/`create` build it from Docker's flags
 * (as the docker CLI does). Only the fields Berth maps are checked; others are accepted and ignored,
 * as Podman's compatible API does, except those whose meaning Berth cannot give (refused by name).
 */
import { z } from 'zod';

const stringOrList = z.union([z.string(), z.array(z.string())]).nullish();
const int = z.number().int();

export const HostConfigSchema = z.looseObject({
  Binds: z.array(z.string()).nullish(),
  Mounts: z
    .array(
      z.looseObject({
        Type: z.string().optional(),
        Source: z.string().optional(),
        Target: z.string().optional(),
        ReadOnly: z.boolean().optional(),
      }),
    )
    .nullish(),
  PortBindings: z.record(z.string(), z.array(z.looseObject({ HostIp: z.string().optional(), HostPort: z.string().optional() })).nullish()).nullish(),
  PublishAllPorts: z.boolean().nullish(),
  RestartPolicy: z.looseObject({ Name: z.string().optional(), MaximumRetryCount: int.optional() }).nullish(),
  AutoRemove: z.boolean().nullish(),
  VolumesFrom: z.array(z.string()).nullish(),
  CapAdd: z.array(z.string()).nullish(),
  CapDrop: z.array(z.string()).nullish(),
  Privileged: z.boolean().nullish(),
  SecurityOpt: z.array(z.string()).nullish(),
  ReadonlyRootfs: z.boolean().nullish(),
  Memory: int.nonnegative().nullish(),
  NanoCpus: int.nonnegative().nullish(),
  CpuQuota: int.nullish(),
  CpuPeriod: int.nonnegative().nullish(),
  PidsLimit: int.nullish(),
  NetworkMode: z.string().nullish(),
});
export type HostConfig = z.infer<typeof HostConfigSchema>;

export const CreateBodySchema = z.looseObject({
  Hostname: z.string().nullish(),
  Domainname: z.string().nullish(),
  User: z.string().nullish(),
  AttachStdin: z.boolean().nullish(),
  AttachStdout: z.boolean().nullish(),
  AttachStderr: z.boolean().nullish(),
  Tty: z.boolean().nullish(),
  OpenStdin: z.boolean().nullish(),
  StdinOnce: z.boolean().nullish(),
  Env: z.array(z.string()).nullish(),
  Cmd: stringOrList,
  Entrypoint: stringOrList,
  Image: z.string().nullish(),
  Labels: z.record(z.string(), z.string()).nullish(),
  WorkingDir: z.string().nullish(),
  ExposedPorts: z.record(z.string(), z.unknown()).nullish(),
  Volumes: z.record(z.string(), z.unknown()).nullish(),
  StopSignal: z.string().nullish(),
  StopTimeout: int.nullish(),
  NetworkDisabled: z.boolean().nullish(),
  HostConfig: HostConfigSchema.nullish(),
  NetworkingConfig: z.looseObject({ EndpointsConfig: z.record(z.string(), z.unknown()).nullish() }).nullish(),
});
export type CreateBody = z.infer<typeof CreateBodySchema>;

/** Parses a body; an error names the field as Docker's JSON decoder would. */
export function parseCreateBody(raw: unknown): CreateBody {
  const r = CreateBodySchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.join('.');
  throw new Error(`json: cannot unmarshal into field ${field || 'body'}: ${issue.message}`);
}
