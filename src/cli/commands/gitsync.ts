/**
 * `berth gitsync status|sync|suspend|resume|history|rollback|diff`: the GitOps verbs. They read
 * and annotate GitSync objects through the API client; the controller does the work (sync asks it
 * through berth.dev/sync-requested-at, rollback through berth.dev/rollback-to). diff renders the
 * fetched revision here, with this machine's git, and compares a server-side dry run of every
 * object with the live one, as `kubectl diff` does (`diff -u -N` of two directories).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ROLLBACK_TO_ANNOTATION, REQUESTED_AT_ANNOTATION, SYNC_REQUESTED_AT_ANNOTATION, type GitSync } from '../../api/gitsync.js';
import { ApiClient, ApiStatusError, type KObject } from '../../client/api-client.js';
import { credentialsFrom } from '../../client/gitops/credentials.js';
import type { GitCredentials } from '../../client/gitops/git.js';
import { renderRevision, type DesiredObject } from '../../client/gitops/render.js';
import { GitSource } from '../../client/gitops/source.js';
import { pooledFrom } from '../../client/kubeconfig.js';
import { allResourceTypes, GitSyncType, resourceTypeFor, SecretType } from '../../client/kinds.js';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { CliError, ExitError } from '../errors.js';
import { loadKubeConfig, namespaceFor } from '../kubeconfig.js';
import { humanDuration } from '../output/age.js';
import { renderColumns } from '../output/table.js';
import { stdio, type Printer } from '../output/print.js';

type GitSyncObject = KObject & { spec: GitSync['spec']; status?: GitSync['status'] };

const VERBS = ['status', 'sync', 'suspend', 'resume', 'history', 'rollback', 'diff'] as const;

const spec = {
  name: 'gitsync',
  usage: 'berth gitsync status [NAME] | sync NAME | suspend NAME | resume NAME | history NAME | rollback NAME REVISION | diff NAME  [-n NS]',
  summary: 'Show and drive GitSyncs: status, sync now, suspend, resume, history, roll back to a revision, diff the fetched revision against the cluster.',
  flags: {
    ...clientFlags,
    ...namespaceFlag,
    wait: { type: 'boolean', default: true, description: 'sync and rollback: wait until the controller has acted (--no-wait returns at once)' },
    timeout: { type: 'string', valueName: 'SECONDS', default: '120', description: 'how long sync and rollback wait' },
  },
  positionals: { min: 1, max: 3 },
  examples: ['berth gitsync status', 'berth gitsync status web', 'berth gitsync sync web', 'berth gitsync rollback web 3f2a1c9', 'berth gitsync diff web'],
} satisfies CommandSpec<FlagSpecs>;

const short = (rev: string | undefined): string => (rev ? rev.slice(0, 12) : '-');
const cond = (gs: GitSyncObject, type: string) => (gs.status?.conditions ?? []).find((c) => c.type === type);

function serverError(err: unknown): never {
  if (err instanceof ApiStatusError) throw new CliError(`Error from server (${err.status.reason ?? err.code}): ${err.message}`);
  throw err;
}

export async function gitsyncCommand(argv: string[], printer: Printer = stdio): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const [verb, name, revision] = parsed.positionals as [string, string | undefined, string | undefined];
  if (!(VERBS as readonly string[]).includes(verb)) throw new CliError(`unknown gitsync verb "${verb}" (known: ${VERBS.join(', ')}). See 'berth gitsync --help'.`);
  if (verb !== 'status' && !name) throw new CliError(`berth gitsync ${verb} needs the GitSync's NAME. See 'berth gitsync --help'.`);
  if (verb === 'rollback' && !revision) throw new CliError('berth gitsync rollback needs NAME and REVISION (a commit id, or a prefix of one in its history).');
  if (verb !== 'rollback' && revision) throw new CliError(`unexpected argument "${revision}". See 'berth gitsync --help'.`);
  if (verb !== 'status' && verb !== 'rollback' && parsed.positionals.length > 2) throw new CliError(`unexpected argument "${parsed.positionals[2]}".`);
  const v = parsed.values;
  const kc = loadKubeConfig(v);
  const namespace = namespaceFor(kc, v.namespace);
  const client = new ApiClient(pooledFrom(kc));
  const timeoutS = Number(v.timeout ?? '120');
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new CliError(`--timeout: "${v.timeout}" is not a positive number of seconds`);
  try {
    const res = client.resource<GitSyncObject>(GitSyncType);
    const get = () => res.get(namespace, name!).catch(serverError);
    switch (verb) {
      case 'status':
        return name ? printer.out(describe(await get())) : printTable(printer, (await res.list({ namespace }).catch(serverError)).items, namespace);
      case 'suspend':
      case 'resume':
        await res.patch(namespace, name!, { spec: { suspend: verb === 'suspend' } }, { fieldManager: 'berth-cli' }).catch(serverError);
        return printer.out(`gitsync.berth.dev/${name} ${verb === 'suspend' ? 'suspended' : 'resumed'}`);
      case 'history':
        return printHistory(printer, await get());
      case 'sync': {
        const at = new Date().toISOString();
        await res.patch(namespace, name!, { metadata: { annotations: { [REQUESTED_AT_ANNOTATION]: at, [SYNC_REQUESTED_AT_ANNOTATION]: at } } }, { fieldManager: 'berth-cli' }).catch(serverError);
        if (v.wait === false) return printer.out(`gitsync.berth.dev/${name}: sync requested`);
        const done = await waitFor(res, namespace, name!, timeoutS, (gs) => gs.status?.lastHandledSyncRequestedAt === at && cond(gs, 'Ready')?.reason !== 'Progressing');
        return finish(printer, done, 'synced');
      }
      case 'rollback': {
        const gs = await get();
        const full = resolveRevision(gs, revision!);
        const value = `${full}@${new Date().toISOString()}`;
        await res.patch(namespace, name!, { metadata: { annotations: { [ROLLBACK_TO_ANNOTATION]: value } }, spec: { autoSync: false } }, { fieldManager: 'berth-cli' }).catch(serverError);
        printer.err(`spec.autoSync is now false so that the rollback holds; \`berth gitsync sync ${name}\` applies the fetched revision again (and kubectl patch can turn autoSync back on).`);
        if (v.wait === false) return printer.out(`gitsync.berth.dev/${name}: rollback to ${short(full)} requested`);
        const done = await waitFor(res, namespace, name!, timeoutS, (x) => x.status?.lastHandledRollbackTo === value && cond(x, 'Ready')?.reason !== 'Progressing');
        return finish(printer, done, `rolled back to ${short(full)}`);
      }
      case 'diff':
        return await diff(printer, client, await get());
    }
  } finally {
    client.close();
  }
}

function finish(printer: Printer, gs: GitSyncObject, what: string): void {
  const ready = cond(gs, 'Ready');
  printer.out(`gitsync.berth.dev/${gs.metadata.name} ${what}: revision ${short(gs.status?.appliedRevision)}, Ready ${ready?.status ?? 'Unknown'} (${ready?.reason ?? ''}${ready?.message ? `: ${ready.message}` : ''})`);
  if (ready?.status === 'False') throw new ExitError(1);
}

async function waitFor(res: ReturnType<ApiClient['resource']>, namespace: string, name: string, timeoutS: number, done: (gs: GitSyncObject) => boolean): Promise<GitSyncObject> {
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const gs = (await res.get(namespace, name).catch(serverError)) as GitSyncObject;
    if (done(gs)) return gs;
    if (Date.now() > deadline) throw new CliError(`the controller did not act on GitSync ${namespace}/${name} within ${timeoutS} s (is it running? berth server or berth controller)`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A commit id from history (a prefix of 4 or more), or a full one. */
export function resolveRevision(gs: GitSyncObject, rev: string): string {
  if (/^[0-9a-f]{40}$/.test(rev)) return rev;
  if (!/^[0-9a-f]{4,39}$/.test(rev)) throw new CliError(`REVISION must be a commit id (or 4+ leading hex digits of one in the history), got "${rev}"`);
  const known = [...new Set([...(gs.status?.history ?? []).map((h) => h.revision), gs.status?.lastHealthyRevision, gs.status?.appliedRevision, gs.status?.fetchedRevision].filter((r): r is string => !!r))];
  const hits = known.filter((r) => r.startsWith(rev));
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) throw new CliError(`"${rev}" matches ${hits.length} revisions of the history: give more digits`);
  throw new CliError(`no revision in the history of ${gs.metadata.name} starts with "${rev}"; give the full commit id`);
}

function printTable(printer: Printer, items: GitSyncObject[], namespace: string): void {
  if (items.length === 0) {
    printer.err(`No GitSyncs found in ${namespace} namespace.`);
    return;
  }
  const rows = items
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .map((gs) => [gs.metadata.name, short(gs.status?.appliedRevision), cond(gs, 'Synced')?.reason ?? '-', cond(gs, 'Healthy')?.reason ?? '-', cond(gs, 'Ready')?.status ?? 'Unknown', gs.spec.suspend ? 'true' : 'false', cond(gs, 'Ready')?.message ?? '']);
  for (const line of renderColumns(['NAME', 'REVISION', 'SYNC', 'HEALTH', 'READY', 'SUSPENDED', 'MESSAGE'], rows)) printer.out(line);
}

function describe(gs: GitSyncObject): string {
  const s = gs.status ?? {};
  const when = (t: string | undefined) => (t ? `${t} (${humanDuration(Date.now() - Date.parse(t))} ago)` : '-');
  const lines = [
    `Name:          ${gs.metadata.name}`,
    `Namespace:     ${gs.metadata.namespace}`,
    `URL:           ${gs.spec.url}`,
    `Ref:           ${gs.spec.ref ?? '(default branch)'}${s.fetchedRef ? ` -> ${s.fetchedRef}` : ''}`,
    `Path:          ${gs.spec.path ?? '(root)'}`,
    `Policy:        autoSync=${gs.spec.autoSync !== false} prune=${gs.spec.prune === true} driftPolicy=${gs.spec.selfHeal?.driftPolicy ?? 'Correct'} rollbackOnFailure=${gs.spec.rollbackOnFailure === true}${gs.spec.suspend ? ' SUSPENDED' : ''}`,
    `Fetched:       ${short(s.fetchedRevision)}  ${when(s.lastFetchTime)}`,
    `Applied:       ${short(s.appliedRevision)}  ${when(s.lastAppliedTime)}`,
    `Last healthy:  ${short(s.lastHealthyRevision)}`,
    `Objects:       ${s.inventory?.length ?? 0}`,
  ];
  for (const c of s.conditions ?? []) lines.push(`${`${c.type}:`.padEnd(15)}${c.status}  ${c.reason ?? ''}${c.message ? `: ${c.message}` : ''}`);
  if (s.webhookPath) lines.push(`Webhook:       POST ${s.webhookPath}`);
  if (s.outOfSync?.length) {
    lines.push('Out of sync:');
    for (const e of s.outOfSync) lines.push(`  ${e.kind} ${e.namespace ? `${e.namespace}/` : ''}${e.name}  ${e.reason}${e.fields?.length ? `  ${e.fields.join(', ')}` : ''}${e.manager ? `  (by ${e.manager})` : ''}`);
  }
  if (s.errors?.length) {
    lines.push('Errors:');
    for (const e of s.errors) lines.push(`  ${[e.file, e.document !== undefined ? `document ${e.document}` : '', e.object ? `(${e.object})` : '', e.field ?? ''].filter(Boolean).join(' ')}${e.file || e.object ? ': ' : ''}${e.message}`);
  }
  return lines.join('\n');
}

function printHistory(printer: Printer, gs: GitSyncObject): void {
  const h = gs.status?.history ?? [];
  if (h.length === 0) {
    printer.err(`GitSync ${gs.metadata.name} has no sync history yet.`);
    return;
  }
  for (const line of renderColumns(['REVISION', 'TIME', 'RESULT', 'MESSAGE'], h.map((e) => [short(e.revision), e.time, e.result, e.message ?? '']))) printer.out(line);
}

const fileName = (kind: string, ns: string | undefined, name: string) => `${kind}.${ns ? `${ns}.` : ''}${name}.yaml`.replace(/[^A-Za-z0-9._-]/g, '_');

function clean(obj: KObject | undefined): string {
  if (!obj) return '';
  const copy = structuredClone(obj);
  delete copy.metadata.managedFields;
  return stringify(copy);
}

/** Renders the fetched revision here and shows what applying it would change (exit 1 when something would). */
async function diff(printer: Printer, client: ApiClient, gs: GitSyncObject): Promise<void> {
  const ns = gs.metadata.namespace ?? 'default';
  const work = await mkdtemp(join(tmpdir(), 'berth-gitsync-diff-'));
  try {
    let creds: GitCredentials | undefined;
    if (gs.spec.secretRef) {
      const secret = await client.resource(SecretType).get(ns, gs.spec.secretRef.name).catch(serverError);
      const c = credentialsFrom(secret, gs.spec.url);
      if ('error' in c) throw new CliError(c.error);
      creds = c;
    }
    const source = new GitSource(join(work, 'cache'));
    const resolved = gs.status?.fetchedRevision ? { revision: gs.status.fetchedRevision, ref: gs.status.fetchedRef ?? gs.status.fetchedRevision } : await source.resolve(gs.spec.url, gs.spec.ref, creds);
    await source.fetch(gs.spec.url, resolved, creds).catch(async () => source.fetch(gs.spec.url, await source.resolve(gs.spec.url, gs.spec.ref, creds), creds));
    const types = allResourceTypes.filter((t) => t.kind !== 'Event' && t.kind !== 'Node');
    const render = await renderRevision(source, gs.spec.url, resolved.revision, gs.spec.path, { owner: { namespace: ns, name: gs.metadata.name }, defaultNamespace: gs.spec.targetNamespace ?? ns, types });
    if (render.errors.length) {
      for (const e of render.errors) printer.err(`${e.file ?? ''}${e.document !== undefined ? ` document ${e.document}` : ''}${e.field ? ` ${e.field}` : ''}: ${e.message}`);
      throw new CliError(`revision ${short(resolved.revision)} does not render (${render.errors.length} error(s)); nothing to compare`);
    }
    const live = join(work, 'LIVE');
    const merged = join(work, 'MERGED');
    await mkdir(live);
    await mkdir(merged);
    const problems: string[] = [];
    for (const d of render.objects as DesiredObject[]) {
      const r = client.resource(d.type);
      const current = await r.getIfExists(d.object.metadata.namespace, d.object.metadata.name);
      let next: KObject | undefined;
      try {
        next = await r.apply(d.object, { fieldManager: 'berth-gitsync', force: true, dryRun: true, fieldValidation: 'Strict' });
      } catch (err) {
        problems.push(`${d.file} document ${d.document}: ${(err as Error).message}`);
        continue;
      }
      const f = fileName(d.type.kind, d.object.metadata.namespace, d.object.metadata.name);
      if (current) await writeFile(join(live, f), clean(current));
      await writeFile(join(merged, f), clean(next));
    }
    if (gs.spec.prune) {
      const keep = new Set(render.objects.map((d) => fileName(d.type.kind, d.object.metadata.namespace, d.object.metadata.name)));
      for (const e of gs.status?.inventory ?? []) {
        const f = fileName(e.kind, e.namespace, e.name);
        if (keep.has(f)) continue;
        const t = resourceTypeFor(e.apiVersion, e.kind);
        const current = t ? await client.resource(t).getIfExists(e.namespace, e.name) : undefined;
        if (current && current.metadata.uid === e.uid) await writeFile(join(live, f), clean(current));
      }
    }
    for (const p of problems) printer.err(`error: ${p}`);
    const out = spawnSync('diff', ['-u', '-N', 'LIVE', 'MERGED'], { cwd: work, encoding: 'utf8', maxBuffer: 64 << 20 });
    if (out.error) throw new CliError(`cannot run diff: ${out.error.message}`);
    if (out.stdout) printer.out(out.stdout.replace(/\n$/, ''));
    if (out.status === 1 || problems.length) throw new ExitError(1);
    if (out.status !== 0) throw new CliError(`diff failed: ${out.stderr.trim()}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
