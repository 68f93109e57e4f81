/**
 * `berth build`: builds an image from a Dockerfile on a node, as `docker build` sends its context
 * to dockerd: the context goes through the API server to the node's agent (POST
 * nodes/NODE/build) and the steps stream back. `--local` builds on this machine's node.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError } from '../errors.js';
import { apiConnection, cliError } from './node.js';

const flags = {
  tag: { type: 'string', short: 't', multiple: true, valueName: 'NAME[:TAG]', description: 'name the image (repeat for several names)' },
  file: { type: 'string', short: 'f', valueName: 'FILE', description: 'the Dockerfile (default CONTEXT/Dockerfile; "-" reads it from stdin)' },
  'build-arg': { type: 'string', multiple: true, valueName: 'KEY=VALUE', description: 'set a build-time variable (repeatable); KEY alone takes the value from the environment' },
  'no-cache': { type: 'boolean', description: 'do not use the build cache' },
  target: { type: 'string', valueName: 'STAGE', description: 'build this stage (and the ones it needs) and stop' },
  quiet: { type: 'boolean', short: 'q', description: 'print only the image ID' },
  pull: { type: 'boolean', description: 'always pull the base images (FROM) again; without it a missing one is pulled' },
  push: { type: 'boolean', description: 'push every -t name to its registry from the node once the build succeeds (with your saved logins)' },
  local: { type: 'boolean', description: "build on this machine's node (the node named like this host), through the API server like any build" },
  node: { type: 'string', valueName: 'NAME', description: 'node to build on (default: the only Ready node, else the node named like this host)' },
  kubeconfig: { type: 'string', valueName: 'FILE', description: 'kubeconfig to use (default: $KUBECONFIG, <data-dir>/kubeconfig, ~/.kube/config)' },
  context: { type: 'string', valueName: 'NAME', description: 'kubeconfig context to use' },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'berth state directory whose kubeconfig to use (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'build',
  usage: 'berth build [-t NAME[:TAG]]... [-f FILE] [--build-arg KEY=VALUE]... [--no-cache] [--target STAGE] [--push] [--node NAME | --local] CONTEXT',
  summary: "Build an image from a Dockerfile and a context directory, with the layer cache, on a node through the API server (as docker build sends its context to dockerd); --local builds on this machine's node.",
  flags,
  positionals: { min: 1, max: 1 },
  examples: ['berth build -t app:1 .', 'berth build -t app:dev -f docker/Dockerfile.dev --build-arg VERSION=2 --target dev .', 'berth build --local -t registry.local:5000/app:1 --push .'],
};

export function parseBuildArgs(list: readonly string[], env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list) {
    const eq = a.indexOf('=');
    if (eq === 0) throw new CliError(`--build-arg "${a}": the name is empty`);
    if (eq < 0) {
      const v = env[a];
      if (v !== undefined) out[a] = v;
      continue;
    }
    out[a.slice(0, eq)] = a.slice(eq + 1);
  }
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function buildCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const contextDir = resolve(parsed.positionals[0] as string);
  const file = v.file ?? join(contextDir, 'Dockerfile');
  let dockerfile: string;
  try {
    dockerfile = file === '-' ? await readStdin() : await readFile(resolve(file), 'utf8');
  } catch (e) {
    throw new CliError(`cannot read the Dockerfile ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  // BuildKit: a <Dockerfile>.dockerignore next to the Dockerfile wins over the context's .dockerignore
  let dockerignore: string | undefined;
  if (file !== '-') dockerignore = await readFile(`${resolve(file)}.dockerignore`, 'utf8').catch(() => undefined);
  dockerignore ??= await readFile(join(contextDir, '.dockerignore'), 'utf8').catch(() => undefined);
  const noCache = v['no-cache'] === true || (v as Record<string, unknown>).cache === false;
  const tags = v.tag ?? [];
  if (v.push === true && tags.length === 0) throw new CliError('--push needs at least one -t NAME[:TAG] to push to');
  if (v.local === true && v.node !== undefined) throw new CliError('--local and --node are exclusive: --local builds on the node of this machine');
  const { remoteBuild } = await import('../remote-build.js');
  const { NodeApiClient } = await import('../../client/node-api.js');
  const { chooseNode } = await import('../../client/node-choice.js');
  const conn = await apiConnection(v);
  let node: string;
  try {
    node = await chooseNode(conn, { ...(v.node ? { wanted: v.node } : {}), ...(v.local === true ? { thisMachine: true } : {}) });
  } catch (e) {
    cliError(e);
  }
  // as docker build: a base image the node does not have is pulled first (--pull: every one, again)
  const buildArgs = parseBuildArgs(v['build-arg'] ?? []);
  const { baseImages } = await import('../../client/docker/base-images.js');
  const { ensureImage } = await import('../docker/image-pull.js');
  for (const base of baseImages(dockerfile, buildArgs)) {
    try {
      await ensureImage(new NodeApiClient(conn, node), base, v.pull === true ? 'always' : 'missing');
    } catch (e) {
      cliError(e);
    }
  }
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await remoteBuild(conn, {
      contextDir,
      ...(file === '-' ? { dockerfileText: dockerfile } : { dockerfilePath: resolve(file) }),
      ...(dockerignore !== undefined ? { dockerignore } : {}),
      tags,
      buildArgs,
      ...(v.target !== undefined ? { target: v.target } : {}),
      noCache,
      node,
      quiet: v.quiet === true,
      signal: abort.signal,
    });
    if (v.quiet === true) process.stdout.write(`${result.imageId}\n`);
    else {
      // with --local the node is this machine's, as a local build said it
      process.stdout.write(`Successfully built ${result.imageId.slice(7, 19)}${v.local === true ? '' : ` on node ${result.node}`}\n`);
      for (const t of result.tags) process.stdout.write(`Successfully tagged ${t}\n`);
    }
    if (v.push === true) {
      // pushed from the node, with this user's logins, as `docker build` + `docker push` would
      const { CredentialsFile, registryOf } = await import('../../client/registry-credentials.js');
      const { pushFromNode } = await import('./push.js');
      const creds = new CredentialsFile();
      const api = new NodeApiClient(conn, node);
      for (const t of result.tags) {
        const registryAuth = await creds.registryAuth(registryOf(t)).catch((e: unknown) => cliError(e));
        const r = await pushFromNode(api, t, { quiet: v.quiet === true, ...(registryAuth ? { registryAuth } : {}) });
        if (v.quiet !== true) process.stdout.write(`Pushed ${t}: digest: ${r.digest} size: ${r.size}\n`);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
