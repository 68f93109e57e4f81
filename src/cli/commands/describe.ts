/** `berth describe KIND [NAME...]`: a readable account of objects and their Events. */
import type { KubernetesObject } from '@kubernetes/client-node';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import type { BerthClient } from '../client.js';
import { connect } from '../connect.js';
import { CliError, ExitError, formatError } from '../errors.js';
import { apiVersionOfRef, splitTypeAndNames, type ResourceRef } from '../kinds.js';
import { describeObject, type EventLike } from '../output/describe.js';
import { nameOf, toPlainObject, withTypeMeta, type PlainObject } from '../output/objects.js';
import { stdio, type Printer } from '../output/print.js';

const spec = {
  name: 'describe',
  usage: 'berth describe KIND [NAME...] [-n NS] [-l SELECTOR]',
  summary: 'Show objects in detail: metadata, spec, status, conditions and their events.',
  flags: {
    ...clientFlags,
    ...namespaceFlag,
    selector: { type: 'string', short: 'l', valueName: 'SELECTOR', description: 'describe the objects matching this label selector' },
  },
  positionals: { min: 1 },
  examples: ['berth describe container web', 'berth describe ctr/web', 'berth describe containers -l app=web'],
} satisfies CommandSpec<FlagSpecs>;

/** Events about one object: in its namespace, or in all namespaces for a cluster-scoped object. */
async function eventsFor(client: BerthClient, ref: ResourceRef, obj: PlainObject): Promise<{ events?: EventLike[]; error?: string }> {
  const meta = obj.metadata as { name: string; namespace?: string };
  const fieldSelector = `involvedObject.name=${meta.name},involvedObject.kind=${ref.kind}`;
  try {
    const list = await client.objects.list('v1', 'Event', ref.namespaced ? meta.namespace : undefined, undefined, undefined, undefined, fieldSelector);
    return { events: list.items.map((e) => toPlainObject(e) as EventLike) };
  } catch (err) {
    return { error: formatError(err).replace(/^error: /, '') };
  }
}

export async function describeCommand(argv: string[], printer: Printer = stdio): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const { client, namespace } = connect(v);
  let failed = 0;
  let first = true;
  for (const g of splitTypeAndNames(parsed.positionals)) {
    const ref = await client.resolve(g.kind);
    const ns = ref.namespaced ? namespace : undefined;
    const objects: PlainObject[] = [];
    if (g.names.length > 0) {
      if (v.selector) throw new CliError('name cannot be provided when a selector is specified');
      for (const name of g.names) {
        try {
          const obj = await client.objects.read({
            apiVersion: apiVersionOfRef(ref),
            kind: ref.kind,
            metadata: { name, ...(ns ? { namespace: ns } : {}) },
          } as KubernetesObject & { metadata: { name: string } });
          objects.push(withTypeMeta(toPlainObject(obj), ref));
        } catch (err) {
          printer.err(formatError(err));
          failed++;
        }
      }
    } else {
      const list = await client.objects.list(apiVersionOfRef(ref), ref.kind, ns, undefined, undefined, undefined, undefined, v.selector);
      objects.push(...list.items.map((i) => withTypeMeta(toPlainObject(i), ref)).sort((a, b) => nameOf(a).localeCompare(nameOf(b))));
      if (objects.length === 0) printer.err(ns ? `No resources found in ${ns} namespace.` : 'No resources found');
    }
    for (const obj of objects) {
      const { events, error } = await eventsFor(client, ref, obj);
      printer.out(`${first ? '' : '\n\n'}${describeObject({ object: obj, events, eventsError: error })}`);
      first = false;
    }
  }
  if (failed > 0) throw new ExitError(1);
}
