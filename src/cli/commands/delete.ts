/** `berth delete KIND NAME... | -f FILE`: delete objects and, by default, wait until they are gone. */
import type { KubernetesObject } from '@kubernetes/client-node';
import { clientFlags, namespaceFlag, parseCommand, type CommandSpec, type FlagSpecs } from '../args.js';
import type { BerthClient } from '../client.js';
import { connect } from '../connect.js';
import { CliError, ExitError, formatError, isNotFound } from '../errors.js';
import { apiVersionOfRef, qualifiedKind, resourcePath, splitTypeAndNames, type ResourceRef } from '../kinds.js';
import { describeDoc, parseManifests, readManifestSources } from '../manifests.js';
import { nameOf, toPlainObject } from '../output/objects.js';
import { stdio, type Printer } from '../output/print.js';
import { watchLoop } from '../watch-loop.js';

const spec = {
  name: 'delete',
  usage: 'berth delete (KIND NAME... | KIND/NAME... | KIND --all | KIND -l SELECTOR | -f FILE) [-n NS] [--wait=true] [--cascade=background|orphan|foreground]',
  summary: 'Delete objects by name, by selector, or as listed in manifests.',
  flags: {
    ...clientFlags,
    ...namespaceFlag,
    filename: { type: 'string', short: 'f', multiple: true, valueName: 'PATH', description: 'delete the objects in this manifest file, directory or - (stdin); repeatable' },
    recursive: { type: 'boolean', short: 'R', description: 'read directories given with -f recursively' },
    selector: { type: 'string', short: 'l', valueName: 'SELECTOR', description: 'delete the objects matching this label selector' },
    all: { type: 'boolean', description: 'delete every object of the kind in the namespace' },
    wait: { type: 'boolean', default: true, description: 'wait until the objects are gone (finalizers done)' },
    timeout: { type: 'string', valueName: 'DURATION', description: 'give up waiting after this long, e.g. 30s, 5m (default: no limit)' },
    cascade: { type: 'string', valueName: 'POLICY', default: 'background', description: 'what happens to dependents: background, foreground or orphan' },
    'ignore-not-found': { type: 'boolean', description: 'treat objects that do not exist as deleted' },
    'dry-run': { type: 'string', valueName: 'none|server', default: 'none', description: 'server: let the server check the deletion without doing it' },
  },
  positionals: { min: 0 },
  examples: ['berth delete container web', 'berth delete ctr/web vol/data', 'berth delete -f web.yaml', 'berth delete containers -l app=web --cascade=orphan'],
} satisfies CommandSpec<FlagSpecs>;

interface Victim {
  ref: ResourceRef;
  namespace: string | undefined;
  name: string;
  /** For errors about objects from manifests. */
  context?: string;
}

const policies: Record<string, string> = { background: 'Background', foreground: 'Foreground', orphan: 'Orphan' };

/** 30s, 5m, 1h30m, 500ms, or a bare number of seconds. */
export function parseDuration(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = text;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) throw new CliError(`invalid duration "${text}": use e.g. 30s, 5m, 1h`);
    total += Number(m[1]) * (units[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  return total;
}

async function waitGone(client: BerthClient, v: Victim, signal: AbortSignal): Promise<void> {
  for (;;) {
    const obj = await client.readIfExists(v.ref, v.namespace, v.name);
    if (!obj || signal.aborted) return;
    const plain = toPlainObject(obj);
    const rv = (plain.metadata as { resourceVersion?: string }).resourceVersion ?? '';
    let gone = false;
    await watchLoop({
      client,
      path: resourcePath(v.ref, v.namespace),
      query: { fieldSelector: `metadata.name=${v.name}` },
      resourceVersion: rv,
      signal,
      onEvent: (type) => {
        gone = type === 'DELETED';
        return gone;
      },
      // After 410 the object may have gone while we were not looking: read it again.
      relist: async () => {
        const again = await client.readIfExists(v.ref, v.namespace, v.name);
        if (!again) throw new GoneAlready();
        return (toPlainObject(again).metadata as { resourceVersion?: string }).resourceVersion ?? '';
      },
    }).catch((err: unknown) => {
      if (err instanceof GoneAlready) gone = true;
      else throw err;
    });
    if (gone || signal.aborted) return;
  }
}

class GoneAlready extends Error {}

async function victimsFromFiles(client: BerthClient, paths: string[], recursive: boolean, flagNs: string | undefined, defaultNs: string, printer: Printer): Promise<{ victims: Victim[]; failed: number }> {
  const sources = await readManifestSources(paths, { recursive });
  const victims: Victim[] = [];
  let failed = 0;
  for (const doc of sources.flatMap(parseManifests)) {
    const context = describeDoc(doc);
    if (!doc.object) {
      printer.err(`error: ${context}: ${doc.error ?? 'unusable document'}`);
      failed++;
      continue;
    }
    const obj = doc.object as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };
    const ref = await client.resolveKind(obj.apiVersion, obj.kind);
    if (!ref) {
      printer.err(`error: ${context}: no matches for kind "${obj.kind}" in version "${obj.apiVersion}"`);
      failed++;
      continue;
    }
    const ns = ref.namespaced ? (obj.metadata.namespace || flagNs || defaultNs) : undefined;
    if (ref.namespaced && obj.metadata.namespace && flagNs && obj.metadata.namespace !== flagNs) {
      printer.err(`error: ${context}: the namespace from the provided object "${obj.metadata.namespace}" does not match the namespace "${flagNs}"`);
      failed++;
      continue;
    }
    victims.push({ ref, namespace: ns, name: obj.metadata.name, context });
  }
  return { victims, failed };
}

export async function deleteCommand(argv: string[], printer: Printer = stdio): Promise<void> {
  const parsed = parseCommand(spec, argv);
  if (!parsed) return;
  const v = parsed.values;
  const files = v.filename ?? [];
  const propagationPolicy = policies[(v.cascade ?? 'background').toLowerCase()];
  if (!propagationPolicy) throw new CliError(`invalid --cascade value "${v.cascade}": want background, foreground or orphan`);
  const dryRunValue = v['dry-run'] ?? 'none';
  if (dryRunValue !== 'none' && dryRunValue !== 'server') throw new CliError(`invalid --dry-run value "${dryRunValue}": want none or server`);
  const dryRun = dryRunValue === 'server';
  const timeoutMs = v.timeout ? parseDuration(v.timeout) : undefined;
  if (files.length > 0 && parsed.positionals.length > 0) throw new CliError('give either KIND NAME... or -f FILE, not both');
  if (files.length === 0 && parsed.positionals.length === 0) throw new CliError(`you must specify the type of resource to delete. See 'berth delete --help'.`);

  const { client, namespace } = connect(v);
  let failed = 0;
  const victims: Victim[] = [];
  if (files.length > 0) {
    const r = await victimsFromFiles(client, files, v.recursive === true, v.namespace, namespace, printer);
    victims.push(...r.victims);
    failed += r.failed;
  } else {
    for (const g of splitTypeAndNames(parsed.positionals)) {
      const ref = await client.resolve(g.kind);
      const ns = ref.namespaced ? namespace : undefined;
      if (g.names.length > 0) {
        if (v.all || v.selector) throw new CliError('names cannot be given together with --all or -l');
        victims.push(...g.names.map((name) => ({ ref, namespace: ns, name })));
        continue;
      }
      if (!v.all && !v.selector) throw new CliError(`resource(s) were provided, but no name was specified: give NAME..., --all or -l SELECTOR`);
      const list = await client.objects.list(apiVersionOfRef(ref), ref.kind, ns, undefined, undefined, undefined, undefined, v.selector);
      if (list.items.length === 0) printer.err(ns ? `No resources found in ${ns} namespace.` : 'No resources found');
      victims.push(...list.items.map((i) => ({ ref, namespace: ns, name: nameOf(toPlainObject(i)) })));
    }
  }

  const deleted: Victim[] = [];
  for (const victim of victims) {
    try {
      await client.objects.delete(
        {
          apiVersion: apiVersionOfRef(victim.ref),
          kind: victim.ref.kind,
          metadata: { name: victim.name, ...(victim.namespace ? { namespace: victim.namespace } : {}) },
        } as KubernetesObject,
        undefined,
        dryRun ? 'All' : undefined,
        undefined,
        undefined,
        propagationPolicy,
      );
      printer.out(`${qualifiedKind(victim.ref)} "${victim.name}" deleted${dryRun ? ' (server dry run)' : ''}`);
      deleted.push(victim);
    } catch (err) {
      if (isNotFound(err) && v['ignore-not-found']) continue;
      printer.err(formatError(err, victim.context));
      failed++;
    }
  }

  if (v.wait !== false && !dryRun && deleted.length > 0) {
    const controller = new AbortController();
    const timer = timeoutMs !== undefined ? setTimeout(() => controller.abort(), timeoutMs) : undefined;
    try {
      for (const victim of deleted) {
        await waitGone(client, victim, controller.signal);
        if (controller.signal.aborted) {
          printer.err(`error: timed out waiting for ${qualifiedKind(victim.ref)} "${victim.name}" to be deleted`);
          failed++;
          break;
        }
      }
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
  if (failed > 0) throw new ExitError(1);
}
