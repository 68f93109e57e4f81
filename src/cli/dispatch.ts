/** The `berth` command table: dispatches to one file per command under commands/. */
import { CliError, ExitError, formatError } from './errors.js';

export interface Command {
  /** Loads the command's module only when it runs: start-up stays fast for every command. */
  load(): Promise<(argv: string[]) => Promise<void>>;
  summary: string;
}

const commands: Record<string, Command> = {
  run: { load: async () => (await import('./commands/run.js')).runCommand, summary: 'create and run a container from an image (docker run; -d in the background, -it interactive, --rm)' },
  create: { load: async () => (await import('./commands/run.js')).createCommand, summary: 'create a container without starting it (docker create)' },
  start: { load: async () => (await import('./commands/container-verbs.js')).startCommand, summary: 'start created or stopped containers (-a attaches)' },
  stop: { load: async () => (await import('./commands/container-verbs.js')).stopCommand, summary: 'stop running containers (-t grace seconds)' },
  restart: { load: async () => (await import('./commands/container-verbs.js')).restartCommand, summary: 'restart containers' },
  kill: { load: async () => (await import('./commands/container-verbs.js')).killCommand, summary: 'send a signal to containers (-s, default KILL)' },
  pause: { load: async () => (await import('./commands/container-verbs.js')).pauseCommand, summary: 'freeze the processes of containers' },
  unpause: { load: async () => (await import('./commands/container-verbs.js')).unpauseCommand, summary: 'thaw paused containers' },
  rm: { load: async () => (await import('./commands/container-verbs.js')).rmCommand, summary: 'remove containers (-f running ones, -v their anonymous volumes)' },
  wait: { load: async () => (await import('./commands/container-verbs.js')).waitCommand, summary: 'wait for containers to stop and print their exit codes' },
  rename: { load: async () => (await import('./commands/container-verbs.js')).renameCommand, summary: "rename a container (its Docker name)" },
  attach: { load: async () => (await import('./commands/container-verbs.js')).attachCommand, summary: "attach to a running container's input and output" },
  port: { load: async () => (await import('./commands/container-verbs.js')).portCommand, summary: 'list the published ports of a container' },
  inspect: { load: async () => (await import('./commands/inspect.js')).inspectCommand, summary: 'Docker-shaped JSON of containers, images and volumes (-f Go template)' },
  diff: { load: async () => (await import('./commands/inspect.js')).diffCommand, summary: "changes in a container's filesystem" },
  export: { load: async () => (await import('./commands/inspect.js')).exportCommand, summary: "a container's filesystem as a tar archive" },
  save: { load: async () => (await import('./commands/system.js')).saveCommand, summary: 'save images to a tar archive' },
  load: { load: async () => (await import('./commands/system.js')).loadCommand, summary: 'load images from a tar archive' },
  image: { load: async () => (await import('./commands/system.js')).imageCommand, summary: 'image prune [-a]' },
  volume: { load: async () => (await import('./commands/volume.js')).volumeCommand, summary: 'volume create, ls, inspect, rm, prune' },
  network: { load: async () => (await import('./commands/network.js')).networkCommand, summary: 'network create, ls, inspect, rm, connect, disconnect, prune' },
  system: { load: async () => (await import('./commands/system.js')).systemCommand, summary: 'system df [-v], prune, info, events' },
  info: { load: async () => (await import('./commands/system.js')).infoCommand, summary: 'system-wide information (docker info)' },
  events: { load: async () => (await import('./commands/system.js')).eventsCommand, summary: 'container and volume events (--since, --until, --filter)' },
  ps: { load: async () => (await import('./commands/ps.js')).psCommand, summary: 'list containers, docker ps style (-a all, -s sizes)' },
  logs: { load: async () => (await import('./commands/logs.js')).logsCommand, summary: "print a container's output (-f follows, --tail N)" },
  exec: { load: async () => (await import('./commands/exec.js')).execCommand, summary: 'run a command in a running container; its exit code is passed through' },
  cp: { load: async () => (await import('./commands/cp.js')).cpCommand, summary: 'copy files between a container and the local filesystem' },
  top: { load: async () => (await import('./commands/top.js')).topCommand, summary: 'show the processes of a running container' },
  stats: { load: async () => (await import('./commands/stats.js')).statsCommand, summary: 'show CPU, memory and pids of running containers' },
  apply: { load: async () => (await import('./commands/apply.js')).applyCommand, summary: 'create or update objects from manifests (server-side apply)' },
  get: { load: async () => (await import('./commands/get.js')).getCommand, summary: 'list objects or show some by name; -w follows changes' },
  describe: { load: async () => (await import('./commands/describe.js')).describeCommand, summary: 'show objects in detail, with their events' },
  delete: { load: async () => (await import('./commands/delete.js')).deleteCommand, summary: 'delete objects by name, selector or manifest' },
  'api-resources': { load: async () => (await import('./commands/api-resources.js')).apiResourcesCommand, summary: 'list the resource types the server serves' },
  version: { load: async () => (await import('./commands/version.js')).versionCommand, summary: 'print client and server versions' },
  pull: { load: async () => (await import('./commands/pull.js')).pullCommand, summary: 'pull an image from a registry onto a node (through the API server)' },
  push: { load: async () => (await import('./commands/push.js')).pushCommand, summary: 'push an image of a node to a registry' },
  tag: { load: async () => (await import('./commands/tag.js')).tagCommand, summary: 'give an image of a node another name' },
  images: { load: async () => (await import('./commands/images.js')).imagesCommand, summary: 'list the images of a node' },
  rmi: { load: async () => (await import('./commands/rmi.js')).rmiCommand, summary: 'remove images of a node (-f even while containers use them)' },
  login: { load: async () => (await import('./commands/login.js')).loginCommand, summary: 'log in to a registry, checked by a node (credentials saved here for pull and push)' },
  logout: { load: async () => (await import('./commands/logout.js')).logoutCommand, summary: "remove a registry's saved credentials" },
  search: { load: async () => (await import('./commands/search.js')).searchCommand, summary: "search a registry's catalog" },
  build: { load: async () => (await import('./commands/build.js')).buildCommand, summary: "build an image from a Dockerfile on a node (with the layer cache); --local: this machine's node" },
  commit: { load: async () => (await import('./commands/commit.js')).commitCommand, summary: "create an image from a container's changes, on its node" },
  import: { load: async () => (await import('./commands/import.js')).importCommand, summary: 'create an image on a node from a rootfs tarball, with --change instructions' },
  token: { load: async () => (await import('./commands/token.js')).tokenCommand, summary: 'make (create NAME --role view|edit|admin|cluster-admin), list or revoke user tokens; writes a kubeconfig' },
  history: { load: async () => (await import('./commands/history.js')).historyCommand, summary: 'show the history of an image of a node' },
  gitsync: { load: async () => (await import('./commands/gitsync.js')).gitsyncCommand, summary: 'GitOps: status, sync, suspend, resume, history, rollback and diff of GitSyncs' },
};

export function usage(roles: Record<string, Command> = {}): string {
  const all = { ...roles, ...commands };
  const width = Math.max(...Object.keys(all).map((c) => c.length));
  return [
    'berth: Docker rebuilt as a declarative, Kubernetes-style system.',
    '',
    'Usage: berth COMMAND [flags]',
    '',
    'Commands:',
    ...Object.entries(all).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'berth COMMAND --help' for a command's flags.",
    '',
  ].join('\n');
}

/**
 * Runs one invocation; returns the exit code (errors are printed, never thrown). `roles` are the
 * process commands (server, apiserver, controller, agent, registry) that src/cmd adds.
 */
export async function main(argv: string[], roles: Record<string, Command> = {}): Promise<number> {
  const [name, ...rest] = argv;
  const all: Record<string, Command> = { ...roles, ...commands };
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    if (name === 'help' && rest[0] && all[rest[0]]) return main([rest[0], '--help'], roles);
    process.stdout.write(usage(roles));
    return name === undefined ? 1 : 0;
  }
  if (name === '--version') return main(['version', '--client'], roles);
  const command = Object.hasOwn(all, name) ? all[name] : undefined;
  try {
    if (!command) throw new CliError(`unknown command "${name}" for "berth". Run 'berth --help' for the list of commands.`);
    const run = await command.load();
    await run(rest);
    return 0;
  } catch (err) {
    if (err instanceof ExitError) return err.exitCode;
    process.stderr.write(`${formatError(err)}\n`);
    return 1;
  }
}
