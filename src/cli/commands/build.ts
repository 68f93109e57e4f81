/** `berth build`: builds an image from a Dockerfile on the local runtime (<data-dir>/runtime), streaming the steps. */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { resolveDataDir } from '../data-dir.js';
import type { RequestOptions } from 'node:https';
import type { DirectConnection } from '../direct-connection.js';
import { CliError } from '../errors.js';
import type { ConnectionFlags } from '../kubeconfig.js';

const flags = {
  tag: { type: 'string', short: 't', multiple: true, valueName: 'NAME[:TAG]', description: 'name the image (repeat for several names)' },
  file: { type: 'string', short: 'f', valueName: 'FILE', description: 'the Dockerfile (default CONTEXT/Dockerfile; "-" reads it from stdin)' },
  'build-arg': { type: 'string', multiple: true, valueName: 'KEY=VALUE', description: 'set a build-time variable (repeatable); KEY alone takes the value from the environment' },
  'no-cache': { type: 'boolean', description: 'do not use the build cache' },
  target: { type: 'string', valueName: 'STAGE', description: 'build this stage (and the ones it needs) and stop' },
  quiet: { type: 'boolean', short: 'q', description: 'print only the image ID' },
  push: { type: 'boolean', description: 'push every -t name to its registry once the build succeeds (from the node that built it, or from here with --local)' },
  local: { type: 'boolean', description: "build on this machine's runtime (<data-dir>/runtime) instead of sending the context to a node through the API server" },
  node: { type: 'string', valueName: 'NAME', description: 'node to build on (default: the first Ready node)' },
  'cgroup-parent': { type: 'string', valueName: 'NAME', description: 'with --local: parent cgroup of the RUN containers (default "berth")' },
  kubeconfig: { type: 'string', valueName: 'FILE', description: 'kubeconfig to use (default: $KUBECONFIG, <data-dir>/kubeconfig, ~/.kube/config)' },
  context: { type: 'string', valueName: 'NAME', description: 'kubeconfig context to use' },
  'data-dir': { type: 'string', valueName: 'DIR', description: 'berth state directory; the runtime lives in DIR/runtime (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'build',
  usage: 'berth build [-t NAME[:TAG]]... [-f FILE] [--build-arg KEY=VALUE]... [--no-cache] [--target STAGE] [--push] [--node NAME | --local] CONTEXT',
  summary: 'Build an image from a Dockerfile and a context directory, with the layer cache: on a node through the API server (as docker build sends its context to dockerd), or with --local on this machine.',
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

/** Server and credentials through client-node, for kubeconfigs the direct reader does not handle. */
async function clientNodeConnection(flags: ConnectionFlags): Promise<DirectConnection> {
  const { loadKubeConfig } = await import('../kubeconfig.js');
  const kc = loadKubeConfig(flags);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new CliError('the kubeconfig has no current cluster');
  const options: RequestOptions = { headers: {} };
  await kc.applyToHTTPSOptions(options);
  return { server: cluster.server, options };
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
  const noCache = v['no-cache'] === true || (v as Record<string, unknown>).cache === false;
  if (v.push === true && (v.tag ?? []).length === 0) throw new CliError('--push needs at least one -t NAME[:TAG] to push to');
  if (v.local !== true) {
    if (file === '-') throw new CliError('-f - (Dockerfile on stdin) works with --local only');
    const { directConnection } = await import('../direct-connection.js');
    const { remoteBuild } = await import('../remote-build.js');
    const result = await remoteBuild(directConnection(v) ?? (await clientNodeConnection(v)), {
      contextDir,
      dockerfilePath: resolve(file),
      ...(dockerignore !== undefined ? { dockerignore } : {}),
      tags: v.tag ?? [],
      buildArgs: parseBuildArgs(v['build-arg'] ?? []),
      ...(v.target !== undefined ? { target: v.target } : {}),
      noCache,
      ...(v.node !== undefined ? { node: v.node } : {}),
      push: v.push === true,
      quiet: v.quiet === true,
    });
    if (v.quiet === true) process.stdout.write(`${result.imageId}\n`);
    else {
      process.stdout.write(`Successfully built ${result.imageId.slice(7, 19)} on node ${result.node}\n`);
      for (const t of result.tags) process.stdout.write(`Successfully tagged ${t}\n`);
    }
    return;
  }
  // heavy modules load only when a build really runs
  const { Runtime } = await import('../../runtime/index.js');
  const { Builder } = await import('../../runtime/build/builder.js');
  const { formatBuildEvent } = await import('../../runtime/build/progress.js');
  const rt = new Runtime({ root: join(resolveDataDir(v['data-dir']), 'runtime'), ...(v['cgroup-parent'] ? { cgroupParent: v['cgroup-parent'] } : {}) });
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const quiet = v.quiet === true;
  try {
    const result = await new Builder(rt).build(
      {
        contextDir,
        dockerfile,
        dockerfileName: file === '-' ? 'Dockerfile' : file.split('/').pop() ?? 'Dockerfile',
        buildArgs: parseBuildArgs(v['build-arg'] ?? []),
        ...(dockerignore !== undefined ? { dockerignore } : {}),
        tags: v.tag ?? [],
        ...(v.target !== undefined ? { target: v.target } : {}),
        // parseArgs (allowNegative) reads --no-cache as cache=false
        noCache,
      },
      {
        onEvent: quiet
          ? undefined
          : (e) => (e.type === 'warning' || (e.type === 'output' && e.stream === 'stderr') ? process.stderr : process.stdout).write(formatBuildEvent(e)),
        signal: abort.signal,
      },
    );
    if (quiet) process.stdout.write(`${result.imageId}\n`);
    else {
      process.stdout.write(`Successfully built ${result.imageId.slice(7, 19)}\n`);
      for (const t of result.tags) process.stdout.write(`Successfully tagged ${t}\n`);
    }
    if (v.push === true) {
      const { openNode, layerProgress } = await import('./pull.js');
      const { distribution } = await openNode(v['data-dir']);
      for (const t of result.tags) {
        const progress = quiet ? undefined : layerProgress();
        try {
          const r = await distribution.push(t, { onProgress: progress?.onProgress });
          if (!quiet) process.stdout.write(`Pushed ${t}: digest: ${r.digest} size: ${r.size}\n`);
        } finally {
          progress?.done();
        }
      }
    }
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
