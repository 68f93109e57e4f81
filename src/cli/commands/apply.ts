/** `berth apply -f FILE|DIR|-`: server-side apply of every object in the manifests. */
import { ApiException, PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import type { BerthClient } from '../client.js';
import { connect } from '../connect.js';
import { CliError, ExitError, formatError } from '../errors.js';
import { qualifiedKind, type ResourceRef } from '../kinds.js';
import { describeDoc, parseManifests, readManifestSources, type ManifestDoc } from '../manifests.js';
import { formatObjects, parseObjectFormat, toPlainObject, type ObjectFormat, type PlainObject } from '../output/objects.js';
import { stdio, type Printer } from '../output/print.js';

const spec = {
  name: 'apply',
  usage: 'berth apply -f FILE|DIR|- [-R] [-n NS] [--server-side] [--force-conflicts] [--field-manager NAME] [--dry-run=server] [-o yaml|json|name]',
  summary: 'Create or update objects from YAML or JSON manifests (server-side apply).',
  flags: {
    ...clientFlags,
    ...namespaceFlag,
    filename: { type: 'string', short: 'f', multiple: true, valueName: 'PATH', description: 'manifest file, directory (*.yaml, *.yml, *.json) or - for stdin; repeatable' },
    recursive: { type: 'boolean', short: 'R', description: 'read directories given with -f recursively' },
    'server-side': { type: 'boolean', description: 'report like kubectl apply --server-side, and keep conflicts with other field managers as errors' },
    'force-conflicts': { type: 'boolean', description: 'with --server-side: take over fields other managers own' },
    'field-manager': { type: 'string', valueName: 'NAME', default: 'berth', description: 'name of the field manager that owns the applied fields' },
    'dry-run': { type: 'string', valueName: 'none|server', default: 'none', description: 'server: let the server validate and report without persisting' },
    output: { type: 'string', short: 'o', valueName: 'FORMAT', description: 'print the applied objects as yaml, json or name' },
  },
  positionals: { min: 0, max: 0 },
  examples: ['berth apply -f web.yaml', 'berth apply -R -f manifests/', 'cat web.yaml | berth apply -f -'],
} satisfies CommandSpec<FlagSpecs>;

export interface ApplyOptions {
  kubeconfig?: string;
  dataDir?: string;
  context?: string;
  namespace?: string;
  recursive?: boolean;
  serverSide?: boolean;
  forceConflicts?: boolean;
  fieldManager?: string;
  dryRun?: boolean;
  output?: '' | ObjectFormat;
  printer?: Printer;
}

export interface ApplyResult {
  applied: number;
  failed: number;
}

type Outcome = 'created' | 'configured' | 'unchanged' | 'serverside-applied';

/** What changed, ignoring what every write touches. */
function comparable(obj: PlainObject): string {
  const meta = { ...(obj.metadata as Record<string, unknown>) };
  delete meta.resourceVersion;
  delete meta.managedFields;
  return JSON.stringify({ ...obj, metadata: meta });
}

function outcomeOf(before: PlainObject | undefined, after: PlainObject, opts: { serverSide: boolean; dryRun: boolean }): Outcome {
  if (opts.serverSide) return 'serverside-applied';
  if (!before) return 'created';
  if (opts.dryRun) return comparable(before) === comparable(after) ? 'unchanged' : 'configured';
  const rv = (o: PlainObject) => (o.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
  return rv(before) === rv(after) ? 'unchanged' : 'configured';
}

/** Namespaces first, so a directory can hold a namespace and what lives in it. */
function applyOrder(docs: ManifestDoc[]): ManifestDoc[] {
  const isNs = (d: ManifestDoc) => d.object?.kind === 'Namespace' && d.object.apiVersion === 'v1';
  return [...docs.filter(isNs), ...docs.filter((d) => !isNs(d))];
}

async function applyOne(
  client: BerthClient,
  doc: ManifestDoc & { object: Record<string, unknown> },
  opts: Required<Pick<ApplyOptions, 'serverSide' | 'forceConflicts' | 'fieldManager' | 'dryRun'>> & { namespace?: string; defaultNamespace: string },
): Promise<{ ref: ResourceRef; object: PlainObject; outcome: Outcome }> {
  const obj = structuredClone(doc.object) as Record<string, unknown> & { apiVersion: string; kind: string; metadata: Record<string, unknown> };
  const ref = await client.resolveKind(obj.apiVersion, obj.kind);
  const name = String(obj.metadata.name);
  if (!ref) throw new CliError(`no matches for kind "${obj.kind}" in version "${obj.apiVersion}" (object "${name}")`);
  const docNs = typeof obj.metadata.namespace === 'string' && obj.metadata.namespace !== '' ? obj.metadata.namespace : undefined;
  let namespace: string | undefined;
  if (ref.namespaced) {
    if (docNs && opts.namespace && docNs !== opts.namespace) {
      throw new CliError(
        `the namespace from the provided object "${docNs}" does not match the namespace "${opts.namespace}". You must pass '--namespace=${docNs}' to perform this operation.`,
      );
    }
    namespace = docNs ?? opts.namespace ?? opts.defaultNamespace;
    obj.metadata.namespace = namespace;
  }
  const before = await client.readIfExists(ref, namespace, name);
  const force = opts.serverSide ? opts.forceConflicts : true;
  const after = await client.objects.patch(
    obj as KubernetesObject,
    undefined,
    opts.dryRun ? 'All' : undefined,
    opts.fieldManager,
    force,
    PatchStrategy.ServerSideApply,
  );
  const plainAfter = toPlainObject(after);
  return {
    ref,
    object: plainAfter,
    outcome: outcomeOf(before ? toPlainObject(before) : undefined, plainAfter, opts),
  };
}

/** Applies every object in the given files/directories; reports each one and never stops at the first failure. */
export async function applyPaths(paths: string[], options: ApplyOptions = {}): Promise<ApplyResult> {
  const printer = options.printer ?? stdio;
  const serverSide = options.serverSide ?? false;
  if (options.forceConflicts && !serverSide) throw new CliError('--force-conflicts only works with --server-side');
  if (paths.length === 0) throw new CliError('must specify -f FILE|DIR|- (no manifests given)');
  const sources = await readManifestSources(paths, { recursive: options.recursive ?? false });
  const { client, namespace: defaultNamespace } = connect({
    kubeconfig: options.kubeconfig,
    'data-dir': options.dataDir,
    context: options.context,
    namespace: options.namespace,
  });
  const docs = applyOrder(sources.flatMap(parseManifests));
  const output = options.output ?? '';
  const dryRunNote = options.dryRun ? ' (server dry run)' : '';
  const printed: { ref: ResourceRef; object: PlainObject }[] = [];
  let applied = 0;
  let failed = 0;
  if (docs.length === 0) throw new CliError(`no objects passed to apply (${sources.map((s) => s.name).join(', ')} hold no documents)`);
  for (const doc of docs) {
    if (!doc.object) {
      printer.err(`error: ${describeDoc(doc)}: ${doc.error ?? 'unusable document'}`);
      failed++;
      continue;
    }
    try {
      const r = await applyOne(client, doc as ManifestDoc & { object: Record<string, unknown> }, {
        serverSide,
        forceConflicts: options.forceConflicts ?? false,
        fieldManager: options.fieldManager ?? 'berth',
        dryRun: options.dryRun ?? false,
        namespace: options.namespace,
        defaultNamespace,
      });
      applied++;
      if (output) printed.push(r);
      else printer.out(`${qualifiedKind(r.ref)}/${String((r.object.metadata as { name?: string }).name)} ${r.outcome}${dryRunNote}`);
    } catch (err) {
      failed++;
      printer.err(formatError(err, describeDoc(doc)));
      if (serverSide && !options.forceConflicts && err instanceof ApiException && err.code === 409) {
        printer.err('  (these fields are owned by another field manager; apply again with --force-conflicts to take them over)');
      }
    }
  }
  if (output && printed.length > 0) {
    const refs = new Map(printed.map((p) => [p.object, p.ref]));
    printer.out(formatObjects(printed.map((p) => p.object), output, (o) => refs.get(o) as ResourceRef, true));
  }
  return { applied, failed };
}

function dryRunFlag(value: string | undefined): boolean {
  switch (value ?? 'none') {
    case 'none':
      return false;
    case 'server':
      return true;
    case 'client':
      throw new CliError('--dry-run=client is not supported: use --dry-run=server, which validates on the server without persisting');
    default:
      throw new CliError(`invalid --dry-run value "${value}": want none or server`);
  }
}

export async function applyCommand(argv: string[]): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const result = await applyPaths(v.filename ?? [], {
    kubeconfig: v.kubeconfig,
    dataDir: v['data-dir'],
    context: v.context,
    namespace: v.namespace,
    recursive: v.recursive === true,
    serverSide: v['server-side'] === true,
    forceConflicts: v['force-conflicts'] === true,
    fieldManager: v['field-manager'],
    dryRun: dryRunFlag(v['dry-run']),
    output: parseObjectFormat(v.output, ['', 'yaml', 'json', 'name']) as '' | ObjectFormat,
  });
  if (result.failed > 0) throw new ExitError(1);
}
