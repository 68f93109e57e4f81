/** `berth registry`: the OCI Distribution registry (also manages its users and garbage collection). */
import { join } from 'node:path';
import { loadAclFile } from '../registry/acl-config.js';
import { UserDb } from '../registry/auth.js';
import { registryRoot, startRegistry } from '../registry/server.js';
import { RegistryStorage, type StorageLimits } from '../registry/storage.js';
import { parseCommand, type CommandSpec, type FlagSpecs } from '../cli/args.js';
import { resolveDataDir } from '../cli/data-dir.js';
import { CliError } from '../cli/errors.js';
import { applyLogFlags, logFlags } from './logging.js';
import { logger } from '../util/log.js';

const flags = {
  'data-dir': { type: 'string', valueName: 'DIR', description: 'state directory; the registry keeps its data in DIR/registry (default: /var/lib/berth as root, else $XDG_DATA_HOME/berth)' },
  listen: { type: 'string', valueName: 'HOST:PORT', default: '127.0.0.1:5000', description: 'address to listen on (port 0 picks a free one)' },
  auth: { type: 'string', valueName: 'MODE', default: 'auto', description: 'token auth: on, off, or auto (on with --acl or when DIR/registry/users has users)' },
  acl: { type: 'string', valueName: 'FILE', description: 'who may pull, push and delete which repositories (YAML or JSON, docker_auth-style `acl:` rules; see README)' },
  'anonymous-pull': { type: 'boolean', description: 'with auth on, allow pulls without credentials (with --acl: of what no rule decides)' },
  'read-only': { type: 'boolean', description: 'refuse every write (pushes, deletes)' },
  'max-upload': { type: 'string', valueName: 'BYTES', default: String(10 * 1024 ** 3), description: 'largest blob accepted (413 beyond; suffixes K, M, G)' },
  'upload-ttl': { type: 'string', valueName: 'SECONDS', default: '3600', description: 'an upload untouched this long is abandoned and removed' },
  'tls-cert': { type: 'string', valueName: 'FILE', description: 'serve HTTPS with this PEM certificate (with --tls-key)' },
  'tls-key': { type: 'string', valueName: 'FILE', description: 'PEM private key of --tls-cert' },
  'add-user': { type: 'string', valueName: 'NAME', description: 'add or update a user (password read from stdin) and exit' },
  'remove-user': { type: 'string', valueName: 'NAME', description: 'remove a user and exit' },
  gc: { type: 'boolean', description: 'garbage-collect blobs no manifest references, then exit' },
  'delete-untagged': { type: 'boolean', description: 'with --gc, also delete manifests no tag points at' },
  'gc-grace': { type: 'string', valueName: 'SECONDS', default: '3600', description: 'with --gc, keep blobs younger than this (a push may be in flight)' },
  ...logFlags,
  help: { type: 'boolean', short: 'h', description: 'show this help' },
} as const satisfies FlagSpecs;

const spec: CommandSpec<typeof flags> = {
  name: 'registry',
  usage: 'berth registry [--data-dir DIR] [--listen HOST:PORT] [--auth on|off|auto] [--acl FILE] [--anonymous-pull] [--read-only] | --add-user NAME | --remove-user NAME | --gc',
  summary: 'Run the OCI Distribution registry (docker push/pull, skopeo and other OCI clients work with it).',
  flags,
  positionals: { min: 0, max: 0 },
  examples: ['berth registry --listen 0.0.0.0:5000', "printf '%s' secret | berth registry --add-user alice", 'berth registry --acl /etc/berth/registry-acl.yaml', 'berth registry --gc --gc-grace 0'],
};

/** The upload cap and lifetime from their flags (`prefix` names them in errors: `--` or `--registry-`). */
export function registryLimitsFrom(maxUpload: string | undefined, ttl: string | undefined, prefix = '--'): StorageLimits {
  const out: StorageLimits = {};
  if (maxUpload !== undefined) {
    const m = /^(\d+)([KMG]i?)?$/i.exec(maxUpload.trim());
    const unit = m?.[2] ? 1024 ** ('KMG'.indexOf(m[2][0]!.toUpperCase()) + 1) : 1;
    if (!m || Number(m[1]) <= 0) throw new CliError(`${prefix}max-upload: "${maxUpload}" is not a positive size in bytes (suffixes K, M, G)`);
    out.maxUploadBytes = Number(m[1]) * unit;
  }
  if (ttl !== undefined) {
    if (!/^\d+$/.test(ttl) || Number(ttl) <= 0) throw new CliError(`${prefix}upload-ttl: "${ttl}" is not a positive number of seconds`);
    out.uploadMaxAgeMs = Number(ttl) * 1000;
  }
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function registryCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  applyLogFlags(v);
  const dataDir = resolveDataDir(v['data-dir']);
  const root = registryRoot(dataDir);
  if (v['add-user'] !== undefined) {
    const password = await readStdin();
    try {
      await new UserDb(join(root, 'users')).setPassword(v['add-user'], password);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    console.log(`user ${v['add-user']} saved in ${join(root, 'users')}`);
    return;
  }
  if (v['remove-user'] !== undefined) {
    if (!(await new UserDb(join(root, 'users')).removeUser(v['remove-user']))) throw new CliError(`user "${v['remove-user']}" not found`);
    console.log(`user ${v['remove-user']} removed`);
    return;
  }
  if (v.gc) {
    const grace = Number(v['gc-grace'] ?? '3600');
    if (!Number.isFinite(grace) || grace < 0) throw new CliError(`--gc-grace: "${v['gc-grace']}" is not a number of seconds`);
    const r = await new RegistryStorage(root).gc({ graceMs: grace * 1000, deleteUntagged: v['delete-untagged'] === true });
    for (const m of r.manifestsRemoved) console.log(`deleted manifest ${m.name}@${m.digest}`);
    for (const b of r.blobsRemoved) console.log(`deleted blob ${b}`);
    for (const u of r.uploadsPurged) console.log(`purged abandoned upload ${u}`);
    console.log(`${r.blobsRemoved.length} blobs removed, ${r.bytesFreed} bytes freed`);
    return;
  }
  const mode = v.auth ?? 'auto';
  if (mode !== 'on' && mode !== 'off' && mode !== 'auto') throw new CliError(`--auth: "${mode}" must be on, off or auto`);
  if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) throw new CliError('--tls-cert and --tls-key go together');
  if (v.acl !== undefined && mode === 'off') throw new CliError('--acl needs token auth: leave out --auth off');
  const tls = v['tls-cert'] && v['tls-key'] ? { certFile: v['tls-cert'], keyFile: v['tls-key'] } : undefined;
  const acl = v.acl === undefined ? undefined : await loadAclFile(v.acl).catch((e: Error) => Promise.reject(new CliError(e.message)));
  const limits = registryLimitsFrom(v['max-upload'], v['upload-ttl']);
  const reg = await startRegistry({ dataDir, listen: v.listen ?? '127.0.0.1:5000', auth: mode, acl, anonymousPull: v['anonymous-pull'] === true, readOnly: v['read-only'] === true, tls, limits });
  const authNote = reg.authEnabled ? `auth on${acl ? `, ${acl.source.length} ACL rules from ${v.acl}` : ''}` : 'auth off';
  logger('registry').info({ url: reg.url, data: root, auth: reg.authEnabled, readOnly: v['read-only'] === true }, `listening on ${reg.url} (data ${root}, ${authNote}${v['read-only'] ? ', read-only' : ''})`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger('registry').info({ signal }, `${signal}, shutting down`);
    void reg.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
