/**
 * `berth commit`: a Container's changes become a new image on the Container's node (POST /commit
 * through the API server). The node checks the name and every --change against the container's
 * image before anything is written.
 */
import { parseCommand, namespaceFlag, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError } from '../errors.js';
import { apiConnection, cliError, nodeFlags } from './node.js';

const flags = {
  message: { type: 'string', short: 'm', valueName: 'MSG', description: 'commit message (the history comment)' },
  author: { type: 'string', short: 'a', valueName: 'AUTHOR', description: 'author, e.g. "Jane <jane@example.com>"' },
  change: { type: 'string', short: 'c', multiple: true, valueName: 'INSTRUCTION', description: 'apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)' },
  pause: { type: 'boolean', short: 'p', default: true, description: 'pause the container while committing' },
  ...namespaceFlag,
  ...nodeFlags,
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'commit',
  usage: 'berth commit [-m MSG] [-a AUTHOR] [-c INSTRUCTION]... [-n NS] CONTAINER [REPOSITORY[:TAG]]',
  summary: "Create a new image from a Container's changes, on the node the Container runs on.",
  flags,
  positionals: { min: 1, max: 2 },
  examples: ['berth commit -m "added config" web app:v2', `berth commit --change 'CMD ["sh"]' --change 'ENV MODE=prod' web app:v3`],
};

export async function commitCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const [container, ref] = parsed.positionals as [string, string | undefined];
  const conn = await apiConnection(v);
  const { rawRequest, readAll } = await import('../../client/raw-request.js');
  const { NodeApiClient } = await import('../../client/node-api.js');
  // the namespace of the context unless -n: read through client-node only when it is needed
  const namespace = v.namespace ?? (await contextNamespace(v));
  // the commit happens on the node the Container is bound to
  let nodeName: string | undefined;
  try {
    const obj = JSON.parse(await readAll(await rawRequest(conn, 'GET', `/apis/berth.dev/v1alpha1/namespaces/${encodeURIComponent(namespace)}/containers/${encodeURIComponent(container)}`))) as { spec?: { nodeName?: string } };
    nodeName = obj.spec?.nodeName;
  } catch (e) {
    cliError(e);
  }
  if (!nodeName) throw new CliError(`container "${container}" is not on a node yet (spec.nodeName is empty)`);
  if (v.node && v.node !== nodeName) throw new CliError(`--node ${v.node}: container "${container}" is on node ${nodeName}`);
  try {
    const id = await new NodeApiClient(conn, nodeName).commit(`${namespace}/${container}`, {
      ...(ref ? { repo: ref } : {}),
      ...(v.author ? { author: v.author } : {}),
      ...(v.message ? { comment: v.message } : {}),
      ...(v.change?.length ? { changes: v.change } : {}),
      pause: v.pause !== false,
    });
    process.stdout.write(`${id}\n`);
  } catch (e) {
    cliError(e);
  }
}

async function contextNamespace(v: { kubeconfig?: string; context?: string; 'data-dir'?: string }): Promise<string> {
  const { loadKubeConfig, namespaceFor } = await import('../kubeconfig.js');
  return namespaceFor(loadKubeConfig(v), undefined);
}
