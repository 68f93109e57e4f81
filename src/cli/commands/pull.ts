/** `berth pull`: pulls an image from a registry into this node's runtime (<data-dir>/runtime). */
import { join } from 'node:path';
import type { Distribution, LayerProgress } from '../../runtime/distribution/index.js';
import { credentialsPath, nodeDistribution } from '../../runtime/distribution/node.js';
import { Runtime } from '../../runtime/index.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { resolveDataDir } from '../data-dir.js';
import { CliError } from '../errors.js';

export const nodeFlags = {
  'data-dir': { type: 'string', valueName: 'DIR', description: 'berth state directory; images live in DIR/runtime (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

export { credentialsPath };

export interface NodeContext {
  runtime: Runtime;
  distribution: Distribution;
}

/** The local node's runtime and registry client, as `berth server` uses them (DIR/daemon.json; registry CAs in DIR/certs.d/<host>/ca.crt). */
export async function openNode(dataDir: string | undefined): Promise<NodeContext> {
  const dir = resolveDataDir(dataDir);
  const runtime = new Runtime({ root: join(dir, 'runtime') });
  return { runtime, distribution: await nodeDistribution(runtime.images, runtime.root, dir) };
}

export function cliError(e: unknown): never {
  throw new CliError(e instanceof Error ? e.message : String(e));
}

const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);

function bar(current: number, total: number): string {
  const width = 40;
  const done = total > 0 ? Math.min(width, Math.floor((current / total) * width)) : 0;
  return `[${'='.repeat(Math.max(0, done - 1))}${done > 0 ? '>' : ''}${' '.repeat(width - done)}]`;
}

const mb = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}kB` : `${n}B`);

/** Docker-style per-layer progress: redrawn in place on a terminal, silent otherwise. */
export function layerProgress(stream: NodeJS.WriteStream = process.stderr): { onProgress?: (p: LayerProgress) => void; done(): void } {
  if (!stream.isTTY) return { done: () => undefined };
  const order: string[] = [];
  const lines = new Map<string, string>();
  let drawn = 0;
  let last = 0;
  const draw = (force: boolean): void => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    let out = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const d of order) out += `\x1b[2K${short(d)}: ${lines.get(d) ?? ''}\n`;
    drawn = order.length;
    stream.write(out);
  };
  return {
    onProgress: (p) => {
      if (!lines.has(p.digest)) order.push(p.digest);
      const busy = p.status === 'Downloading' || p.status === 'Pushing';
      lines.set(p.digest, busy ? `${p.status.padEnd(12)} ${bar(p.current, p.total)} ${mb(p.current)}/${mb(p.total)}` : p.status);
      draw(!busy);
    },
    done: () => draw(true),
  };
}

const spec = {
  name: 'pull',
  usage: 'berth pull [-q] NAME[:TAG|@DIGEST]',
  summary: 'Pull an image from a registry (Docker Hub short names work: busybox is docker.io/library/busybox:latest).',
  flags: {
    ...nodeFlags,
    quiet: { type: 'boolean', short: 'q', description: 'print only the image name' },
    platform: { type: 'string', valueName: 'OS/ARCH', description: 'platform to pick from a multi-platform image (default linux/<this machine>)' },
  },
  positionals: { min: 1, max: 1 },
  examples: ['berth pull 127.0.0.1:5000/team/app:v1', 'berth pull busybox'],
} satisfies CommandSpec<FlagSpecs>;

export async function pullCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const ref = parsed.positionals[0] as string;
  let platform: { os: string; architecture: string } | undefined;
  if (v.platform) {
    const [os, architecture] = v.platform.split('/');
    if (!os || !architecture) throw new CliError(`--platform: "${v.platform}" is not OS/ARCH`);
    platform = { os, architecture };
  }
  const { distribution } = await openNode(v['data-dir']);
  const progress = v.quiet ? { done: () => undefined } : layerProgress();
  try {
    const r = await distribution.pull(ref, { onProgress: 'onProgress' in progress ? progress.onProgress : undefined, platform });
    progress.done();
    const name = r.name ?? `${r.ref.registry}/${r.ref.repository}@${r.digest}`;
    if (v.quiet) {
      console.log(name);
      return;
    }
    console.log(`Digest: ${r.digest}`);
    console.log(r.layersDownloaded > 0 ? `Status: Downloaded newer image for ${name}` : `Status: Image is up to date for ${name}`);
  } catch (e) {
    progress.done();
    cliError(e);
  }
}
