/** `berth logs [-f] [--tail N] NAME`: a container's output, through the API's log subresource. */
import { once } from 'node:events';
import { ApiClient } from '../../client/api-client.js';
import { untilProcessEnded } from '../../client/docker/engine.js';
import { criLogRecords } from '../../client/cri-log.js';
import { ContainerType } from '../../client/kinds.js';
import { pooledFrom } from '../../client/kubeconfig.js';
import { containerSubresourcePath, requestSubresource } from '../../client/subresource.js';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { connect } from '../connect.js';
import { CliError } from '../errors.js';

const spec = {
  name: 'logs',
  usage: 'berth logs [-f] [--tail N] [-t] [--since DURATION] NAME [-n NS]',
  summary: "Print a container's output (stdout and stderr), as docker logs does.",
  flags: {
    ...clientFlags,
    ...namespaceFlag,
    follow: { type: 'boolean', short: 'f', description: 'keep printing new output until the container stops' },
    tail: { type: 'string', valueName: 'N', description: 'only the last N lines' },
    timestamps: { type: 'boolean', short: 't', description: 'prefix each line with its time' },
    since: { type: 'string', valueName: 'SECONDS', description: 'only lines from the last SECONDS seconds (e.g. 60, or 5m, 1h)' },
  },
  positionals: { min: 1, max: 1 },
  examples: ['berth logs hello', 'berth logs -f --tail 10 httpd'],
} satisfies CommandSpec<FlagSpecs>;

export function sinceSeconds(text: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(text);
  if (!m) throw new CliError(`--since: want a number of seconds or a duration such as 30s, 5m, 1h, got "${text}"`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'] ?? 1);
}

export async function logsCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  if (v.tail !== undefined && !/^\d+$/.test(v.tail)) throw new CliError(`--tail: want a non-negative number of lines, got "${v.tail}"`);
  const { client, namespace } = connect(v);
  const name = parsed.positionals[0]!;
  const pooled = pooledFrom(client.kc);
  const containers = new ApiClient(pooled).resource(ContainerType);
  const before = v.follow ? await containers.getIfExists(namespace, name) : undefined;
  // the CRI format keeps stdout and stderr apart: the container's stderr goes to ours, as docker logs does
  const res = await requestSubresource(client.kc, 'GET', containerSubresourcePath(namespace, name, 'log'), {
    format: 'cri',
    follow: v.follow ? true : undefined,
    tailLines: v.tail,
    sinceSeconds: v.since !== undefined ? sinceSeconds(v.since) : undefined,
  });
  let interrupted = false;
  const stop = () => {
    interrupted = true;
    res.destroy();
  };
  process.once('SIGINT', stop);
  try {
    for await (const r of criLogRecords(res)) {
      const line = `${v.timestamps && r.time ? `${r.time} ` : ''}${r.text}\n`;
      const out = r.stream === 'stderr' ? process.stderr : process.stdout;
      if (!out.write(line)) await once(out, 'drain');
    }
  } finally {
    process.off('SIGINT', stop);
  }
  // as docker's: once -f ends the container is seen stopped
  if (before && !interrupted) await untilProcessEnded(containers, before);
  pooled.close();
}
