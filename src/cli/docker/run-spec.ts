/** Docker's run and create flags as the CLI parses them, and the split at the image (flags after it belong to the command). */
import { readFileSync } from 'node:fs';
import type { RunFlagValues } from '../../client/docker/run-flags.js';
import { DockerError } from '../../client/docker/names.js';
import type { FlagSpecs, FlagValues } from '../args.js';
import { connectionFlags, nodeFlag } from './context.js';

export const runFlags = {
  ...connectionFlags,
  ...nodeFlag,
  detach: { type: 'boolean', short: 'd', description: 'run in the background and print the container ID' },
  interactive: { type: 'boolean', short: 'i', description: 'keep stdin open (and attached, without -d)' },
  tty: { type: 'boolean', short: 't', description: 'give the process a terminal' },
  rm: { type: 'boolean', description: 'remove the container when it exits' },
  name: { type: 'string', valueName: 'NAME', description: 'name of the container' },
  env: { type: 'string', short: 'e', multiple: true, valueName: 'KEY=VALUE', description: 'environment variable (KEY alone: from this environment); repeatable' },
  'env-file': { type: 'string', multiple: true, valueName: 'FILE', description: 'read environment variables from a file; repeatable' },
  publish: { type: 'string', short: 'p', multiple: true, valueName: '[IP:]HOST:CONTAINER[/PROTO]', description: 'publish a container port on the node (HOST empty: a port the node picks)' },
  'publish-all': { type: 'boolean', short: 'P', description: 'publish every exposed port on a random host port' },
  expose: { type: 'string', multiple: true, valueName: 'PORT', description: 'expose a port' },
  volume: { type: 'string', short: 'v', multiple: true, valueName: 'SRC:DST[:ro]', description: 'mount a named volume or host path (or /DST: an anonymous volume)' },
  mount: { type: 'string', multiple: true, valueName: 'type=...,source=...,target=...', description: 'mount (bind or volume)' },
  'volumes-from': { type: 'string', multiple: true, valueName: 'CONTAINER[:ro]', description: "mount another container's volumes" },
  workdir: { type: 'string', short: 'w', valueName: 'DIR', description: 'working directory inside the container' },
  user: { type: 'string', short: 'u', valueName: 'USER[:GROUP]', description: 'user to run as' },
  hostname: { type: 'string', short: 'h', valueName: 'NAME', description: 'hostname inside the container' },
  restart: { type: 'string', valueName: 'POLICY', description: 'no, always, unless-stopped or on-failure' },
  memory: { type: 'string', short: 'm', valueName: 'BYTES', description: 'memory limit (e.g. 256m)' },
  cpus: { type: 'string', valueName: 'N', description: 'CPU limit in cores' },
  'pids-limit': { type: 'string', valueName: 'N', description: 'process limit' },
  'read-only': { type: 'boolean', description: 'mount the root filesystem read-only' },
  privileged: { type: 'boolean', description: 'every capability, no seccomp filter, all devices (only where the namespace enforces the privileged level)' },
  'security-opt': { type: 'string', multiple: true, valueName: 'OPT', description: 'seccomp=unconfined, or no-new-privileges (always on)' },
  'cap-add': { type: 'string', multiple: true, valueName: 'CAP', description: 'add a capability' },
  'cap-drop': { type: 'string', multiple: true, valueName: 'CAP', description: 'drop a capability' },
  entrypoint: { type: 'string', valueName: 'CMD', description: "replace the image's ENTRYPOINT" },
  network: { type: 'string', valueName: 'MODE', description: 'bridge (default), none, host, container:NAME or the name of a Network' },
  'network-alias': { type: 'string', multiple: true, valueName: 'ALIAS', description: 'another name on the network (user networks); repeatable' },
  ip: { type: 'string', valueName: 'IPV4', description: 'fixed address on the network (user networks)' },
  net: { type: 'string', valueName: 'MODE', description: 'same as --network' },
  label: { type: 'string', short: 'l', multiple: true, valueName: 'KEY=VALUE', description: 'label; repeatable' },
  pull: { type: 'string', valueName: 'POLICY', description: 'pull the image: missing (default), always or never' },
  'stop-signal': { type: 'string', valueName: 'SIGNAL', description: 'signal that stops the container' },
  'stop-timeout': { type: 'string', valueName: 'SECONDS', description: 'seconds to wait before SIGKILL on stop' },
} as const satisfies FlagSpecs;

/**
 * Splits argv at the image: flags before it are ours, everything after it is the container's command
 * (docker stops parsing flags there: `berth run busybox sh -c 'exit 3'`).
 */
export function splitAtImage(argv: readonly string[], flags: FlagSpecs): { ours: string[]; image?: string; command: string[] } {
  const takesValue = (name: string) => flags[name]?.type === 'string';
  const shortName = (c: string) => Object.entries(flags).find(([, f]) => f.short === c)?.[0];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return { ours: argv.slice(0, i), ...(argv[i + 1] !== undefined ? { image: argv[i + 1] } : {}), command: argv.slice(i + 2) };
    if (a.startsWith('--')) {
      if (!a.includes('=') && takesValue(a.slice(2))) i++;
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // a group of short flags: the last may take the next word as its value
      const chars = a.slice(1);
      const eq = chars.indexOf('=');
      const last = shortName(chars[eq < 0 ? chars.length - 1 : eq - 1]!);
      if (eq < 0 && last && takesValue(last) && chars.length >= 1 && [...chars].slice(0, -1).every((c) => !takesValue(shortName(c) ?? ''))) i++;
      continue;
    }
    return { ours: argv.slice(0, i), image: a, command: argv.slice(i + 1) };
  }
  return { ours: [...argv], command: [] };
}

export function runFlagValues(v: FlagValues<typeof runFlags>, attachStdin: boolean): RunFlagValues {
  const envFileLines: string[] = [];
  for (const f of v['env-file'] ?? []) {
    try {
      envFileLines.push(...readFileSync(f, 'utf8').split('\n'));
    } catch (e) {
      throw new DockerError(`open ${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
    }
  }
  if (v.pull !== undefined && !['missing', 'always', 'never'].includes(v.pull)) throw new DockerError(`invalid pull option: '${v.pull}': must be one of "always", "missing" or "never"`);
  return {
    interactive: v.interactive,
    tty: v.tty,
    rm: v.rm,
    env: v.env,
    envFileLines,
    publish: v.publish,
    publishAll: v['publish-all'],
    expose: v.expose,
    volume: v.volume,
    mount: v.mount,
    volumesFrom: v['volumes-from'],
    workdir: v.workdir,
    user: v.user,
    hostname: v.hostname,
    restart: v.restart,
    memory: v.memory,
    cpus: v.cpus,
    pidsLimit: v['pids-limit'],
    readOnly: v['read-only'],
    privileged: v.privileged,
    securityOpt: v['security-opt'],
    capAdd: v['cap-add'],
    capDrop: v['cap-drop'],
    entrypoint: v.entrypoint,
    network: v.network ?? v.net,
    networkAliases: v['network-alias'],
    ip: v.ip,
    label: v.label,
    stopSignal: v['stop-signal'],
    stopTimeout: v['stop-timeout'],
    attachStdin,
  };
}
