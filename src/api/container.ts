import { z } from 'zod';
import type { KindInfo } from './kind.js';
import { dnsSubdomain, objectMeta } from './meta.js';
import {
  absolutePath,
  conditions,
  exactlyOne,
  ipAddress,
  listMap,
  nodeName,
  nodeSelector,
  observedGeneration,
  quantityField,
  relativePath,
  timestamp,
} from './fields.js';
import { imageRef } from './imageref.js';
import { ageColumn, defaulterFor, listMapKeysFor } from './kindparts.js';

export const containerEnvVar = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(4096)
    .regex(/^[^=]+$/, { message: 'must not contain "="' })
    .refine((s) => !s.includes('\0'), { message: 'must not contain NUL characters' })
    .describe('Name of the environment variable.'),
  value: z.string().optional().describe('Value of the variable; empty when omitted.'),
});
export type ContainerEnvVar = z.infer<typeof containerEnvVar>;

const portNumber = z.number().int().min(1).max(65535);

export const containerPort = z.strictObject({
  containerPort: portNumber.describe('Port the process listens on inside the container.'),
  hostPort: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe('Port on the node that forwards to containerPort (docker run -p HOST:CONTAINER); 0 picks a free port, reported in status.ports (docker run -P). Not published when omitted. Needs network bridge.'),
  protocol: z.enum(['TCP', 'UDP']).default('TCP').describe('TCP or UDP. Defaults to TCP.'),
  hostIP: ipAddress.optional().describe('Node address to bind hostPort on. All addresses when omitted.'),
});
export type ContainerPort = z.infer<typeof containerPort>;

/** Network modes: Docker's --network none, host, bridge and container:NAME. */
export const NETWORK_MODE_RE = /^(none|host|bridge|container:[a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;

export const containerNetwork = z.strictObject({
  name: dnsSubdomain.describe('Name of a Network in the same namespace to join (docker run --network NAME / docker network connect).'),
  aliases: z
    .array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'must be a DNS label (lower case letters, digits and -)' }).max(63))
    .optional()
    .describe('More names the container answers to on this network, besides its own (--network-alias).'),
  ipv4Address: ipAddress.optional().describe('Fixed address on this network, inside its subnet and ipRange (--ip).'),
});
export type ContainerNetwork = z.infer<typeof containerNetwork>;

export const volumeMount = exactlyOne(
  z.strictObject({
    name: dnsSubdomain.optional().describe('Name of a Volume object in the same namespace to mount. Exactly one of name and hostPath.'),
    hostPath: absolutePath.optional().describe('Directory or file on the node to bind-mount (docker run -v /host:/ctr). Exactly one of name and hostPath.'),
    mountPath: absolutePath.describe('Absolute path inside the container where the volume appears.'),
    readOnly: z.boolean().optional().describe('Mount read-only (docker run -v ...:ro). Defaults to false.'),
    subPath: relativePath.optional().describe('Mount only this path inside the volume instead of its root.'),
  }),
  ['name', 'hostPath'],
);
export type VolumeMount = z.infer<typeof volumeMount>;

export const containerResources = z.strictObject({
  limits: z
    .strictObject({
      cpu: quantityField.optional().describe('CPU limit in cores, e.g. 500m or 1.5 (docker run --cpus).'),
      memory: quantityField.optional().describe('Memory limit in bytes, e.g. 256Mi (docker run -m). Exceeding it gets the process OOM-killed.'),
      pids: quantityField.optional().describe('Maximum number of processes and threads (docker run --pids-limit).'),
    })
    .optional()
    .describe('Hard limits enforced through cgroups.'),
  requests: z
    .strictObject({
      cpu: quantityField.optional().describe('CPU the scheduler reserves on the node, in cores.'),
      memory: quantityField.optional().describe('Memory the scheduler reserves on the node, in bytes.'),
    })
    .optional()
    .describe('What the scheduler reserves for the container when picking a node. Defaults to the limits.'),
});
export type ContainerResources = z.infer<typeof containerResources>;

export const containerLogging = z.strictObject({
  maxSize: z
    .string()
    .regex(/^[1-9][0-9]*([kmg]|[KMG]i?|[kmgKMG][bB])?$/, { message: "must be a size such as 10m, 500k or 1g (Docker's max-size, 1024-based), or 10Mi" })
    .optional()
    .describe("Largest size of one log file before it is rotated (Docker's max-size): 10m, 500k, 1g, or 10Mi. At least 4k. Defaults to 10m."),
  maxFile: z.number().int().min(1).max(100).optional().describe("Log files kept, the current one included (Docker's max-file). Defaults to 3."),
});
export type ContainerLogging = z.infer<typeof containerLogging>;

const capability = z
  .string()
  .regex(/^(ALL|(CAP_)?[A-Z][A-Z0-9_]*)$/, { message: 'must be a capability name such as NET_ADMIN, CAP_NET_ADMIN or ALL' });

export const containerSpec = z.strictObject({
  image: imageRef.describe(
    'Image reference [registry/]repository[:tag][@digest] to run, e.g. busybox:1.36. The tag defaults to latest. The node makes sure the image is present, as an Image object with the same ref would.',
  ),
  command: z
    .array(z.string())
    .optional()
    .describe("Replaces the image's ENTRYPOINT (docker run --entrypoint). Not run in a shell."),
  args: z.array(z.string()).optional().describe("Replaces the image's CMD (the arguments after the image in docker run)."),
  env: listMap(containerEnvVar, ['name'])
    .optional()
    .describe("Environment variables, added to and overriding the image's ENV (docker run -e)."),
  workingDir: absolutePath.optional().describe("Working directory of the process; the image's WORKDIR when omitted (docker run -w)."),
  user: z
    .string()
    .regex(/^[^:\s]+(:[^:\s]+)?$/, { message: 'must be user[:group], by name or number' })
    .optional()
    .describe("User and optional group to run as, user[:group] by name or number; the image's USER when omitted (docker run -u)."),
  hostname: dnsSubdomain.max(63).optional().describe('Hostname inside the container; the container name when omitted (docker run -h).'),
  tty: z.boolean().optional().describe('Allocate a pseudo-terminal (docker run -t).'),
  stdin: z.boolean().optional().describe('Keep stdin open for attach and exec (docker run -i).'),
  stdinOnce: z
    .boolean()
    .optional()
    .describe('With stdin: the first attach that ends its input closes the process\'s stdin, as docker run -i attached does (Kubernetes\' stdinOnce). Otherwise stdin stays open across attaches.'),
  ports: listMap(containerPort, ['containerPort', 'protocol'])
    .optional()
    .describe('Ports to publish on the node (docker run -p). Needs network bridge; with network host the process uses node ports directly.'),
  volumeMounts: listMap(volumeMount, ['mountPath'])
    .optional()
    .describe('Volumes and host paths mounted into the container (docker run -v / --mount).'),
  volumesFrom: z
    .array(
      z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:(ro|rw))?$/, {
        message: 'must be a container name, optionally followed by :ro or :rw',
      }),
    )
    .optional()
    .describe('Mount every volume of these containers (same namespace and node) at the same paths; NAME:ro mounts them read-only (docker run --volumes-from).'),
  resources: containerResources.optional().describe('CPU, memory and process limits and scheduling requests.'),
  readOnlyRootFilesystem: z.boolean().optional().describe("Mount the container's root filesystem read-only (docker run --read-only)."),
  capAdd: z.array(capability).optional().describe("Capabilities added to Docker's default set (docker run --cap-add)."),
  capDrop: z.array(capability).optional().describe("Capabilities removed from Docker's default set; ALL drops every one (docker run --cap-drop)."),
  privileged: z
    .boolean()
    .optional()
    .describe('Run with every capability, no seccomp profile and all devices, as root on the node (docker run --privileged). Refused unless the namespace enforces the privileged level. Defaults to false.'),
  seccompProfile: z
    .enum(['RuntimeDefault', 'Unconfined'])
    .optional()
    .describe("Seccomp profile: RuntimeDefault (Docker's default profile) or Unconfined (no filter, docker run --security-opt seccomp=unconfined; refused below the privileged level). Defaults to RuntimeDefault."),
  runAsNonRoot: z
    .boolean()
    .optional()
    .describe('Refuse to run the process as user 0: the user (or the image\'s USER) must be a non-root user. Required by the restricted level.'),
  restartPolicy: z
    .enum(['Always', 'OnFailure', 'Never'])
    .default('Always')
    .describe('When to restart the process after it exits: Always, OnFailure (non-zero exit) or Never. Restarts back off from 10s doubling to 5m. Defaults to Always.'),
  state: z
    .enum(['Running', 'Paused', 'Stopped'])
    .default('Running')
    .describe('Desired state: Running, Paused (processes frozen, docker pause) or Stopped (docker stop; the writable layer is kept). Defaults to Running.'),
  stopSignal: z
    .string()
    .regex(/^((SIG)?[A-Z][A-Z0-9+-]*|[0-9]+)$/, { message: 'must be a signal such as SIGTERM, TERM or 15' })
    .optional()
    .describe("Signal sent to stop the process; the image's STOPSIGNAL, else SIGTERM, when omitted."),
  stopGracePeriodSeconds: z
    .number()
    .int()
    .min(0)
    .default(10)
    .describe('Seconds to wait after the stop signal before SIGKILL (docker stop -t). Defaults to 10.'),
  logging: containerLogging.optional().describe("Size cap and rotation of the container's log (docker run --log-opt max-size=... --log-opt max-file=...). Defaults to 10m × 3."),
  network: z
    .string()
    .regex(NETWORK_MODE_RE, { message: 'must be bridge, none, host or container:NAME' })
    .default('bridge')
    .describe(
      "Network mode (docker run --network): bridge (its own namespace with an address on the node's default network, or on spec.networks), none (loopback only), host (the node's network) or container:NAME (the namespace of that container, in the same namespace and node). Defaults to bridge.",
    ),
  networks: listMap(containerNetwork, ['name'])
    .optional()
    .describe('User networks to join, with bridge networking, instead of the default network: the first gets eth0 (and the published ports), the next eth1... (docker run --network NAME, docker network connect).'),
  nodeName: nodeName.optional(),
  nodeSelector: nodeSelector.optional(),
}).superRefine((spec, ctx) => {
  // joined networks and published ports need an own namespace on a bridge
  const mode = spec.network;
  if (mode !== 'bridge' && (spec.networks?.length ?? 0) > 0) ctx.addIssue({ code: 'custom', path: ['networks'], message: `joining networks needs network bridge, not ${mode}` });
  for (const [i, p] of (spec.ports ?? []).entries()) {
    if (p.hostPort !== undefined && mode !== 'bridge') ctx.addIssue({ code: 'custom', path: ['ports', i, 'hostPort'], message: `publishing a port needs network bridge, not ${mode}` });
  }
});
export type ContainerSpec = z.infer<typeof containerSpec>;

export const containerPhases = ['Pending', 'Creating', 'Running', 'Paused', 'Exited', 'Failed', 'Unknown'] as const;
export type ContainerPhase = (typeof containerPhases)[number];

export const containerStatus = z.strictObject({
  phase: z
    .enum(containerPhases)
    .optional()
    .describe('Pending (waiting for a node or image), Creating, Running, Paused, Exited (stopped or ended), Failed (could not be created or started) or Unknown (the node stopped reporting).'),
  containerID: z.string().optional().describe('ID of the container in the node runtime.'),
  pid: z.number().int().min(0).optional().describe('Host PID of the container\'s main process while it runs.'),
  ip: z.string().optional().describe('Container IP address, when it has its own network namespace with an address (its first network).'),
  networks: z
    .array(
      z.strictObject({
        name: z.string().describe('The Network (or "bridge", the default network).'),
        ipAddress: z.string().optional().describe('Address of the container on it.'),
        prefixLength: z.number().int().optional().describe('Prefix length of the subnet.'),
        gateway: z.string().optional().describe('Gateway (and DNS server) on it.'),
        macAddress: z.string().optional().describe('MAC address of the interface.'),
        interface: z.string().optional().describe('Interface in the container: eth0, eth1...'),
      }),
    )
    .optional()
    .describe("The container's addresses per network, while it is attached (docker inspect NetworkSettings.Networks)."),
  ports: z
    .array(
      z.strictObject({
        containerPort: z.number().int().describe('Port in the container.'),
        protocol: z.enum(['TCP', 'UDP']).describe('TCP or UDP.'),
        hostIP: z.string().describe('Node address it is published on.'),
        hostPort: z.number().int().describe('Node port, the one picked for hostPort 0 included.'),
      }),
    )
    .optional()
    .describe('Published ports as they are on the node (docker port).'),
  startedAt: timestamp.optional().describe('When the current (or last) process started.'),
  finishedAt: timestamp.optional().describe('When the last process ended.'),
  exitCode: z.number().int().optional().describe('Exit code of the last process; 128+N when killed by signal N (137 for SIGKILL and OOM kills).'),
  reason: z
    .string()
    .optional()
    .describe('Machine-readable reason for the phase, e.g. Completed, Error, OOMKilled, ImagePullBackOff, CrashLoopBackOff, CreateContainerError.'),
  message: z.string().optional().describe('Human-readable detail about the phase.'),
  restartCount: z.number().int().min(0).optional().describe('Times the process has been restarted under restartPolicy.'),
  imageID: z.string().optional().describe('ID (config digest) of the image the container runs.'),
  sizeRw: z.number().int().min(0).optional().describe('Bytes in the container\'s writable layer (docker ps -s, size).'),
  sizeRootFs: z.number().int().min(0).optional().describe('Bytes of the image plus the writable layer (docker ps -s, virtual size).'),
  conditions: conditions.optional(),
  observedGeneration: observedGeneration.optional(),
});
export type ContainerStatus = z.infer<typeof containerStatus>;

export const container = z.strictObject({
  apiVersion: z.literal('berth.dev/v1alpha1'),
  kind: z.literal('Container'),
  metadata: objectMeta,
  spec: containerSpec.describe('Desired state of the container, written by users.'),
  status: containerStatus.optional().describe('Observed state of the container, written by the node agent.'),
});
export type Container = z.infer<typeof container>;
/** A Container as users write it, before defaults. */
export type ContainerInput = z.input<typeof container>;

export const applyContainerDefaults = defaulterFor(container);

export const containerKind: KindInfo = {
  group: 'berth.dev',
  version: 'v1alpha1',
  kind: 'Container',
  listKind: 'ContainerList',
  plural: 'containers',
  singular: 'container',
  shortNames: ['ctr'],
  categories: ['berth'],
  namespaced: true,
  hasStatus: true,
  schema: container,
  specSchema: containerSpec,
  statusSchema: containerStatus,
  printerColumns: [
    { name: 'Image', type: 'string', jsonPath: '.spec.image', description: 'Image reference the container runs.' },
    { name: 'State', type: 'string', jsonPath: '.status.phase', description: 'Observed phase.' },
    { name: 'Restarts', type: 'integer', jsonPath: '.status.restartCount', description: 'Restarts so far.' },
    { name: 'Node', type: 'string', jsonPath: '.spec.nodeName', description: 'Node the container is bound to.' },
    ageColumn,
    { name: 'ContainerID', type: 'string', jsonPath: '.status.containerID', description: 'Runtime container ID.', priority: 1 },
    { name: 'Exit Code', type: 'integer', jsonPath: '.status.exitCode', description: 'Exit code of the last process.', priority: 1 },
    { name: 'Reason', type: 'string', jsonPath: '.status.reason', description: 'Reason for the phase.', priority: 1 },
  ],
  applyDefaults: applyContainerDefaults,
  selectableFields: ['spec.nodeName', 'status.phase'],
  listMapKeys: listMapKeysFor(container),
  description:
    'A Container is one isolated process tree started from an image, with its own copy-on-write root filesystem, as `docker run` creates. The node agent creates, starts, stops, pauses and restarts it to match spec and reports what it sees in status.',
};
