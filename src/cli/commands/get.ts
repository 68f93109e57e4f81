/** `berth get KIND [NAME...]`: tables from the server's Table output, or objects as yaml/json/name; -w to follow. */
import type { KubernetesObject } from '@kubernetes/client-node';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import { TABLE_ACCEPT, type BerthClient, type Query } from '../client.js';
import { connect } from '../connect.js';
import { CliError, ExitError, formatError } from '../errors.js';
import { apiVersionOfRef, resourcePath, splitTypeAndNames, type ResourceRef } from '../kinds.js';
import {
  formatObjects,
  objectName,
  parseObjectFormat,
  toJson,
  toPlainObject,
  toYaml,
  withTypeMeta,
  type PlainObject,
} from '../output/objects.js';
import { stdio, type Printer } from '../output/print.js';
import { ColumnPrinter, columnsOf, isTable, tableToGrid, type Table, type TableColumnDefinition } from '../output/table.js';
import { watchLoop } from '../watch-loop.js';

const spec = {
  name: 'get',
  usage: 'berth get KIND[,KIND...] [NAME...] [-n NS | -A] [-o wide|yaml|json|name] [-l SELECTOR] [--field-selector S] [-w] [--watch-only]',
  summary: 'List objects, or show some by name.',
  flags: {
    ...clientFlags,
    ...namespaceFlag,
    'all-namespaces': { type: 'boolean', short: 'A', description: 'list across all namespaces' },
    output: { type: 'string', short: 'o', valueName: 'FORMAT', description: 'wide, yaml, json or name (default: a table)' },
    selector: { type: 'string', short: 'l', valueName: 'SELECTOR', description: 'label selector, e.g. app=web,tier!=db' },
    'field-selector': { type: 'string', valueName: 'SELECTOR', description: 'field selector, e.g. status.phase=Running' },
    watch: { type: 'boolean', short: 'w', description: 'after listing, keep printing changes' },
    'watch-only': { type: 'boolean', description: 'print changes only, without the initial list' },
    'no-headers': { type: 'boolean', description: 'leave out the table header' },
    export: { type: 'boolean', description: 'with -o yaml|json: a manifest without status and server fields (uid, resourceVersion, managedFields, nodeName...) that berth apply -f takes unchanged' },
  },
  positionals: { min: 1 },
  examples: ['berth get containers', 'berth get ctr web -o yaml', 'berth get ctr web -o yaml --export > web.yaml', 'berth get containers -A -o wide', 'berth get containers -w'],
} satisfies CommandSpec<FlagSpecs>;

const PAGE = 500;

/** Set by the server or by the Docker verbs' bookkeeping, not by whoever writes the manifest. */
const SERVER_METADATA = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields', 'finalizers', 'selfLink', 'ownerReferences'];

/**
 * `--export`: the object as a manifest (kubectl's old --export): no status, no server fields, no
 * node binding (the scheduler places it again), no created-by provenance or last-applied copy.
 */
export function exportedObject(obj: PlainObject): PlainObject {
  const out = structuredClone(obj) as PlainObject & { metadata?: Record<string, unknown>; spec?: Record<string, unknown> };
  delete out.status;
  const md = (out.metadata ?? {}) as Record<string, unknown> & { labels?: Record<string, string>; annotations?: Record<string, string> };
  for (const k of SERVER_METADATA) delete md[k];
  if (md.labels) {
    delete md.labels['berth.dev/created-by'];
    if (Object.keys(md.labels).length === 0) delete md.labels;
  }
  if (md.annotations) {
    delete md.annotations['kubectl.kubernetes.io/last-applied-configuration'];
    if (Object.keys(md.annotations).length === 0) delete md.annotations;
  }
  if (out.spec && typeof out.spec === 'object') delete out.spec.nodeName;
  return out;
}

interface Target {
  ref: ResourceRef;
  names: string[];
}

interface GetContext {
  client: BerthClient;
  /** undefined with -A. */
  namespace: string | undefined;
  labelSelector?: string;
  fieldSelector?: string;
  printer: Printer;
}

function scopeOf(ref: ResourceRef, namespace: string | undefined): string | undefined {
  return ref.namespaced ? namespace : undefined;
}

function noneFound(ref: ResourceRef, namespace: string | undefined): string {
  return ref.namespaced && namespace ? `No resources found in ${namespace} namespace.` : 'No resources found';
}

async function listTable(ctx: GetContext, ref: ResourceRef, extraFieldSelector?: string): Promise<Table> {
  const fieldSelector = [ctx.fieldSelector, extraFieldSelector].filter((s) => s).join(',') || undefined;
  const path = resourcePath(ref, scopeOf(ref, ctx.namespace));
  let merged: Table | undefined;
  let cont: string | undefined;
  do {
    const query: Query = { labelSelector: ctx.labelSelector, fieldSelector, includeObject: 'Metadata', limit: PAGE, continue: cont };
    const page = await ctx.client.getJson<unknown>(path, query, TABLE_ACCEPT);
    if (!isTable(page)) throw new CliError(`the server answered GET ${path} with ${describeKind(page)} instead of a Table`);
    if (!merged) merged = page;
    else merged.rows.push(...page.rows);
    cont = page.metadata?.continue || undefined;
    if (!cont) merged.metadata = { ...merged.metadata, resourceVersion: page.metadata?.resourceVersion ?? merged.metadata?.resourceVersion };
  } while (cont);
  return merged;
}

function describeKind(x: unknown): string {
  const kind = (x as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' ? `a ${kind}` : 'something else';
}

/** Rows for named objects; prints an error for each name that fails. */
async function namedTable(ctx: GetContext, ref: ResourceRef, names: string[]): Promise<{ table?: Table; failed: number }> {
  let table: Table | undefined;
  let failed = 0;
  for (const name of names) {
    const path = resourcePath(ref, scopeOf(ref, ctx.namespace), name);
    try {
      const t = await ctx.client.getJson<unknown>(path, {}, TABLE_ACCEPT);
      if (!isTable(t)) throw new CliError(`the server answered GET ${path} with ${describeKind(t)} instead of a Table`);
      if (!table) table = t;
      else table.rows.push(...t.rows);
    } catch (err) {
      ctx.printer.err(formatError(err));
      failed++;
    }
  }
  return { table, failed };
}

async function listObjects(ctx: GetContext, ref: ResourceRef): Promise<{ items: PlainObject[]; resourceVersion: string }> {
  const items: PlainObject[] = [];
  let cont: string | undefined;
  let resourceVersion = '';
  do {
    const list = await ctx.client.objects.list(
      apiVersionOfRef(ref),
      ref.kind,
      scopeOf(ref, ctx.namespace),
      undefined,
      undefined,
      undefined,
      ctx.fieldSelector,
      ctx.labelSelector,
      PAGE,
      cont,
    );
    items.push(...list.items.map((i) => withTypeMeta(toPlainObject(i), ref)));
    cont = list.metadata?._continue || undefined;
    resourceVersion = list.metadata?.resourceVersion ?? resourceVersion;
  } while (cont);
  return { items, resourceVersion };
}

async function readObjects(ctx: GetContext, ref: ResourceRef, names: string[]): Promise<{ items: PlainObject[]; failed: number }> {
  const items: PlainObject[] = [];
  let failed = 0;
  for (const name of names) {
    try {
      const obj = await ctx.client.objects.read({
        apiVersion: apiVersionOfRef(ref),
        kind: ref.kind,
        metadata: { name, ...(ref.namespaced && ctx.namespace ? { namespace: ctx.namespace } : {}) },
      } as KubernetesObject & { metadata: { name: string } });
      items.push(withTypeMeta(toPlainObject(obj), ref));
    } catch (err) {
      ctx.printer.err(formatError(err));
      failed++;
    }
  }
  return { items, failed };
}

function nameSelector(names: string[]): string | undefined {
  return names.length === 1 ? `metadata.name=${names[0]}` : undefined;
}

interface WatchTableOptions {
  wide: boolean;
  withNamespace: boolean;
  headerPrinted: boolean;
  noHeaders: boolean;
  resourceVersion: string;
  /** From the initial list: watch events after the first carry no column definitions. */
  columns: readonly TableColumnDefinition[];
}

async function watchTable(ctx: GetContext, target: Target, printer: ColumnPrinter, opts: WatchTableOptions): Promise<void> {
  let headerPrinted = opts.headerPrinted || opts.noHeaders;
  let columns = opts.columns;
  const extra = nameSelector(target.names);
  const fieldSelector = [ctx.fieldSelector, extra].filter((s) => s).join(',') || undefined;
  await watchLoop({
    client: ctx.client,
    path: resourcePath(target.ref, scopeOf(target.ref, ctx.namespace)),
    query: { labelSelector: ctx.labelSelector, fieldSelector, includeObject: 'Metadata' },
    accept: TABLE_ACCEPT,
    resourceVersion: opts.resourceVersion,
    onEvent: (_type, object) => {
      if (!isTable(object)) throw new CliError(`the server sent a watch event with ${describeKind(object)} where a Table was asked for`);
      columns = columnsOf(object, columns);
      if (columns.length === 0) throw new CliError('the server sent a watch event Table without column definitions, and no earlier Table gave them');
      const grid = tableToGrid(object, opts, columns);
      printer.print(headerPrinted ? undefined : grid.headers, grid.rows);
      headerPrinted = true;
    },
    relist: async () => (await listTable(ctx, target.ref, extra)).metadata?.resourceVersion ?? '',
  });
}

async function watchObjects(ctx: GetContext, target: Target, format: 'yaml' | 'json' | 'name', resourceVersion: string): Promise<void> {
  const extra = nameSelector(target.names);
  const fieldSelector = [ctx.fieldSelector, extra].filter((s) => s).join(',') || undefined;
  let first = true;
  await watchLoop({
    client: ctx.client,
    path: resourcePath(target.ref, scopeOf(target.ref, ctx.namespace)),
    query: { labelSelector: ctx.labelSelector, fieldSelector },
    resourceVersion,
    onEvent: (_type, object) => {
      const obj = withTypeMeta(toPlainObject(object), target.ref);
      if (format === 'name') ctx.printer.out(objectName(target.ref, String((obj.metadata as { name?: string }).name)));
      else if (format === 'json') ctx.printer.out(toJson(obj));
      else ctx.printer.out(`${first ? '' : '---\n'}${toYaml(obj)}`);
      first = false;
    },
    relist: async () => (await listObjects(ctx, target.ref)).resourceVersion,
  });
}

export async function getCommand(argv: string[], printer: Printer = stdio): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const output = parseObjectFormat(v.output, ['', 'wide', 'yaml', 'json', 'name']);
  const allNamespaces = v['all-namespaces'] === true;
  const watch = v.watch === true || v['watch-only'] === true;
  const groups = splitTypeAndNames(parsed.positionals).flatMap((g) =>
    g.kind.split(',').filter((k) => k).map((kind) => ({ kind, names: g.names })),
  );
  const named = groups.some((g) => g.names.length > 0);
  if (allNamespaces && named) throw new CliError('a resource cannot be retrieved by name across all namespaces');
  if (named && v.selector) throw new CliError('name cannot be provided when a selector is specified');
  if (named && groups.length > 1 && parsed.positionals[0] && !parsed.positionals[0].includes('/')) {
    throw new CliError('there is no need to specify a resource type as a separate argument when passing arguments in resource/name form');
  }
  if (watch && (groups.length > 1 || (groups[0]?.names.length ?? 0) > 1)) throw new CliError('you may only specify a single resource type (and at most one name) with --watch');

  const { client, namespace } = connect(v);
  const ctx: GetContext = {
    client,
    namespace: allNamespaces ? undefined : namespace,
    labelSelector: v.selector,
    fieldSelector: v['field-selector'],
    printer,
  };
  const targets: Target[] = [];
  for (const g of groups) targets.push({ ref: await client.resolve(g.kind), names: g.names });

  let failed = 0;
  if (output === '' || output === 'wide') {
    const columns = new ColumnPrinter((line) => printer.out(line));
    const gridOpts = { wide: output === 'wide', withNamespace: allNamespaces };
    let printedAny = false;
    for (const target of targets) {
      let table: Table | undefined;
      if (target.names.length > 0) {
        const r = await namedTable(ctx, target.ref, target.names);
        table = r.table;
        failed += r.failed;
      } else {
        table = await listTable(ctx, target.ref);
      }
      const rows = table?.rows.length ?? 0;
      if (v['watch-only'] !== true && table && rows > 0) {
        const grid = tableToGrid(table, gridOpts);
        if (printedAny && !watch) printer.out('');
        const sectionPrinter = watch ? columns : new ColumnPrinter((line) => printer.out(line));
        sectionPrinter.print(v['no-headers'] ? undefined : grid.headers, grid.rows);
        printedAny = true;
      } else if (target.names.length === 0 && v['watch-only'] !== true) {
        printer.err(noneFound(target.ref, ctx.namespace));
      }
      if (watch) {
        // Named objects were read one by one: list (by name) for a revision and the columns.
        const base = target.names.length > 0 || !table ? await listTable(ctx, target.ref, nameSelector(target.names)) : table;
        await watchTable(ctx, target, columns, {
          ...gridOpts,
          headerPrinted: printedAny,
          noHeaders: v['no-headers'] === true,
          resourceVersion: base.metadata?.resourceVersion ?? '',
          columns: columnsOf(base),
        });
      }
    }
  } else {
    const format = output as 'yaml' | 'json' | 'name';
    const all: { obj: PlainObject; ref: ResourceRef }[] = [];
    let rv = '';
    for (const target of targets) {
      if (target.names.length > 0) {
        const r = await readObjects(ctx, target.ref, target.names);
        failed += r.failed;
        all.push(...r.items.map((obj) => ({ obj, ref: target.ref })));
      } else {
        const r = await listObjects(ctx, target.ref);
        rv = r.resourceVersion;
        all.push(...r.items.map((obj) => ({ obj, ref: target.ref })));
      }
    }
    const single = targets.length === 1 && (targets[0]?.names.length ?? 0) === 1;
    if (v['watch-only'] !== true) {
      if (format === 'name' && all.length === 0 && !named) printer.err(noneFound(targets[0]?.ref as ResourceRef, ctx.namespace));
      else if (all.length > 0 || !named) {
        const refs = new Map(all.map((a) => [a.obj, a.ref]));
        const objs = v.export === true ? all.map((a) => exportedObject(a.obj)) : all.map((a) => a.obj);
        if (v.export === true) all.forEach((a, i) => refs.set(objs[i]!, a.ref));
        printer.out(formatObjects(objs, format, (o) => refs.get(o) as ResourceRef, single));
      }
    }
    if (watch) {
      const target = targets[0] as Target;
      if (!rv) rv = (await listObjects({ ...ctx, fieldSelector: [ctx.fieldSelector, nameSelector(target.names)].filter((s) => s).join(',') || undefined }, target.ref)).resourceVersion;
      await watchObjects(ctx, target, format, rv);
    }
  }
  if (failed > 0) throw new ExitError(1);
}
