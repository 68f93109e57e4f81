/**
 * Property-based test of the API (issue 17): random requests — names and namespaces in the URL,
 * label and annotation maps, bodies (objects of every kind, random JSON, YAML, protobuf-looking
 * bytes), content types, patches of every kind (merge, JSON, strategic, apply) and query
 * parameters — against a real API server. Properties: no answer is a 500; every error is a Status;
 * every object a write accepted reads back valid (its kind's schema, its name, its metadata
 * rules). 2,000 cases with a fixed seed here (FUZZ_RUNS and FUZZ_SEED change both); a longer run
 * is `scripts/fuzz-api`.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kinds } from '../../../src/api/registry.js';
import { objectMetaCauses } from '../../../src/apiserver/meta-validation.js';
import { builtinStrategies } from '../../../src/apiserver/strategies.js';
import type { ApiObject } from '../../../src/api/meta.js';
import { startTestServer, type TestServer } from '../../helpers/api-server.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const strategies = builtinStrategies(kinds);

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer({ store: 'memory' });
  for (const ns of ['fuzz', 'strict']) await t.api('/api/v1/namespaces', { method: 'POST', json: { metadata: { name: ns, ...(ns === 'strict' ? { labels: { 'berth.dev/enforce': 'restricted' } } : {}) } } });
});
afterAll(async () => {
  await t?.stop();
});

/** Kinds the fuzzer writes: [path prefix in namespace fuzz, apiVersion, kind]. */
const TARGETS = [
  ['/apis/berth.dev/v1alpha1/namespaces/fuzz/containers', 'berth.dev/v1alpha1', 'Container'],
  ['/apis/berth.dev/v1alpha1/namespaces/strict/containers', 'berth.dev/v1alpha1', 'Container'],
  ['/apis/berth.dev/v1alpha1/namespaces/fuzz/volumes', 'berth.dev/v1alpha1', 'Volume'],
  ['/apis/berth.dev/v1alpha1/namespaces/fuzz/images', 'berth.dev/v1alpha1', 'Image'],
  ['/api/v1/namespaces/fuzz/secrets', 'v1', 'Secret'],
  ['/api/v1/namespaces', 'v1', 'Namespace'],
  ['/apis/rbac.authorization.k8s.io/v1/namespaces/fuzz/roles', 'rbac.authorization.k8s.io/v1', 'Role'],
  ['/apis/rbac.authorization.k8s.io/v1/namespaces/fuzz/rolebindings', 'rbac.authorization.k8s.io/v1', 'RoleBinding'],
  ['/apis/berth.dev/v1alpha1/nodes', 'berth.dev/v1alpha1', 'Node'],
] as const;

const nasty = fc.constantFrom('', '.', '..', '%', '%00', 'a/b', 'a\u0000b', 'A', '-a', 'a-', 'a_b', 'ünï', ' ', 'a'.repeat(64), 'a'.repeat(254), '__proto__', 'constructor', 'x'.repeat(300));
const dnsName = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const name = fc.oneof({ weight: 12, arbitrary: fc.constantFrom('a', 'b', 'c', 'web', 'x1') }, { weight: 2, arbitrary: dnsName }, { weight: 2, arbitrary: nasty }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) });
const labelKey = fc.oneof(fc.constantFrom('app', 'example.com/app', 'a.b_c-d', '', '/', 'a/', '/a', 'A/b', 'x'.repeat(64), 'berth.dev/enforce', '__proto__'), fc.string({ maxLength: 20 }));
const labelValue = fc.oneof(fc.constantFrom('', 'web', 'privileged', 'baseline', 'restricted', 'a/b', 'v'.repeat(64)), fc.string({ maxLength: 20 }));
const stringMap = fc.dictionary(labelKey, labelValue, { maxKeys: 4 });
const anyJson = fc.jsonValue({ maxDepth: 4 });

const containerSpec = fc.record(
  {
    image: fc.oneof(fc.constant('busybox:latest'), fc.string({ maxLength: 30 })),
    command: fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
    network: fc.constantFrom('none', 'host', 'bridge', 'other'),
    privileged: fc.boolean(),
    capAdd: fc.array(fc.constantFrom('NET_ADMIN', 'CHOWN', 'ALL', 'CAP_SYS_ADMIN', 'bad cap'), { maxLength: 2 }),
    capDrop: fc.array(fc.constantFrom('ALL', 'NET_RAW'), { maxLength: 2 }),
    seccompProfile: fc.constantFrom('RuntimeDefault', 'Unconfined', 'other'),
    runAsNonRoot: fc.boolean(),
    readOnlyRootFilesystem: fc.boolean(),
    user: fc.constantFrom('0', 'root', '1000', '1000:1000', 'a b'),
    volumeMounts: fc.array(fc.record({ hostPath: fc.constantFrom('/', '/srv', 'rel', '/a/../b'), mountPath: fc.constantFrom('/host', '/', 'x') }), { maxLength: 2 }),
    env: fc.array(fc.record({ name: fc.string({ maxLength: 8 }), value: fc.string({ maxLength: 8 }) }), { maxLength: 2 }),
    restartPolicy: fc.constantFrom('Always', 'Never', 'Sometimes'),
    ports: fc.array(fc.record({ containerPort: fc.integer({ min: -1, max: 70000 }), protocol: fc.constantFrom('TCP', 'SCTP') }), { maxLength: 2 }),
    unknownField: anyJson,
  },
  { requiredKeys: [] },
);

const metadata = fc.record(
  {
    name,
    generateName: fc.oneof(fc.constant('gen-'), nasty),
    namespace: fc.constantFrom('fuzz', 'other', ''),
    labels: stringMap,
    annotations: stringMap,
    finalizers: fc.array(fc.constantFrom('example.com/f', 'a b', '', 'kubernetes'), { maxLength: 2 }),
    uid: fc.constantFrom('x', ''),
    resourceVersion: fc.constantFrom('1', 'abc', ''),
    creationTimestamp: fc.constantFrom('2001-01-01T00:00:00Z', 'yesterday', null),
  },
  { requiredKeys: [] },
);

/** A valid object of each kind, for the fuzzer to perturb. */
const BASE: Record<string, Record<string, unknown>> = {
  Container: { spec: { image: 'busybox:latest', command: ['sleep', '1'] } },
  Volume: { spec: {} },
  Image: { spec: { ref: 'busybox:latest' } },
  Secret: { data: { a: 'aGk=' } },
  Namespace: {},
  Role: { rules: [{ verbs: ['get'], apiGroups: [''], resources: ['events'] }] },
  RoleBinding: { roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'alice' }] },
  Node: { spec: {} },
};
const plainLabels = fc.dictionary(fc.constantFrom('app', 'tier', 'example.com/x'), fc.constantFrom('web', 'db', ''), { maxKeys: 2 });
const restrictedSpec = { runAsNonRoot: true, user: '1000', readOnlyRootFilesystem: true, capDrop: ['ALL'] };

/** A body for one of the targets: mostly plausible objects, some nonsense. */
const body = (apiVersion: string, kind: string) =>
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .record({ labels: plainLabels, perturb: kind === 'Container' ? containerSpec : fc.constant({}), some: fc.integer({ min: 0, max: 3 }), restricted: fc.boolean() })
        .map(({ labels, perturb, some, restricted }) => {
          const base = structuredClone(BASE[kind] ?? {});
          if (kind === 'Container') {
            // a few of the random spec fields on a valid spec, sometimes ready for the restricted level
            const keys = Object.keys(perturb).slice(0, some);
            base.spec = { ...(base.spec as object), ...(restricted ? restrictedSpec : {}), ...Object.fromEntries(keys.map((k) => [k, (perturb as Record<string, unknown>)[k]])) };
          }
          return { apiVersion, kind, metadata: { labels }, ...base };
        }),
    },
    { weight: 6, arbitrary: fc.record({ apiVersion: fc.constant(apiVersion), kind: fc.constant(kind), metadata, spec: kind === 'Container' ? containerSpec : fc.oneof(fc.constant({}), anyJson) }, { requiredKeys: ['apiVersion', 'kind'] }) },
    {
      weight: 2,
      arbitrary: fc.record({
        apiVersion: fc.constant(apiVersion),
        kind: fc.constant(kind),
        metadata,
        rules: fc.array(fc.record({ verbs: fc.array(fc.constantFrom('get', '*', ''), { maxLength: 2 }), apiGroups: fc.array(fc.constantFrom('', '*', 'berth.dev'), { maxLength: 2 }), resources: fc.array(fc.constantFrom('*', 'containers', 'a/b/c'), { maxLength: 2 }), nonResourceURLs: fc.array(fc.constantFrom('/x', '*'), { maxLength: 1 }) }, { requiredKeys: [] }), { maxLength: 2 }),
        roleRef: fc.record({ apiGroup: fc.constantFrom('rbac.authorization.k8s.io', 'x'), kind: fc.constantFrom('ClusterRole', 'Role', 'User'), name: fc.constantFrom('view', 'edit', 'cluster-admin', 'none', '') }, { requiredKeys: [] }),
        subjects: fc.array(fc.record({ kind: fc.constantFrom('User', 'Group', 'Robot'), name: fc.constantFrom('alice', '', 'system:masters') }, { requiredKeys: [] }), { maxLength: 2 }),
        data: fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.constant('aGk='), fc.string({ maxLength: 6 })), { maxKeys: 2 }),
        type: fc.constantFrom('Opaque', 'berth.dev/token'),
      }, { requiredKeys: ['apiVersion', 'kind'] }),
    },
    { weight: 1, arbitrary: anyJson },
  );

const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/yaml',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/vnd.kubernetes.protobuf',
  'application/merge-patch+json',
  'application/json-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
  'application/cbor',
  '',
  'garbage/;;;',
);

const jsonPatchOp = fc.record({
  op: fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test', 'bogus'),
  path: fc.constantFrom('/metadata/labels/a', '/metadata/uid', '/metadata/name', '/spec/image', '/spec', '/metadata/creationTimestamp', '/status', '/', '', '/metadata/labels/~1x', '/spec/command/-', '/a/b/c'),
  value: anyJson,
  from: fc.constantFrom('/spec', '/metadata/labels', '/x'),
});

const anyQuery = fc.record(
  {
    dryRun: fc.constantFrom('All', '', 'Some'),
    fieldManager: fc.oneof(fc.constant('fuzz'), fc.string({ maxLength: 5 }), fc.constant('m'.repeat(200))),
    fieldValidation: fc.constantFrom('Strict', 'Warn', 'Ignore', 'Loose'),
    force: fc.constantFrom('true', 'false', 'x'),
    labelSelector: fc.oneof(fc.constantFrom('app=web', 'app in (a,b)', '!app', 'a=b=c', '((', 'x notin ()'), fc.string({ maxLength: 10 })),
    fieldSelector: fc.oneof(fc.constantFrom('metadata.name=a', 'spec.nodeName=n', 'status.phase!=x', 'bogus=1', '=='), fc.string({ maxLength: 10 })),
    limit: fc.constantFrom('1', '0', '-1', 'x', '99999999999999999999'),
    continue: fc.constantFrom('', 'abc', 'eyJydiI6MX0='),
    resourceVersion: fc.constantFrom('0', '1', 'x', '99999999'),
    propagationPolicy: fc.constantFrom('Background', 'Foreground', 'Orphan', 'Never'),
    includeObject: fc.constantFrom('None', 'Object', 'x'),
  },
  { requiredKeys: [] },
);
/** Mostly no parameters or a plausible few (so requests get past them), sometimes anything. */
const query = fc.oneof(
  { weight: 4, arbitrary: fc.constant({} as Record<string, string>) },
  { weight: 3, arbitrary: fc.record({ fieldManager: fc.constant('fuzz'), dryRun: fc.constantFrom('All', ''), fieldValidation: fc.constantFrom('Strict', 'Warn', 'Ignore'), force: fc.constantFrom('true', 'false') }, { requiredKeys: [] }) },
  { weight: 2, arbitrary: anyQuery },
);

const FITTING_TYPE: Record<string, string> = { POST: 'application/json', PUT: 'application/json', DELETE: 'application/json', GET: 'application/json' };
const PATCH_TYPES = ['application/merge-patch+json', 'application/json-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];

const request = fc
  .record({
    target: fc.constantFrom(...TARGETS),
    method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
    named: fc.boolean(),
    name,
    subresource: fc.constantFrom(undefined, undefined, 'status', 'finalize', 'bogus'),
    query,
    contentType,
    patchKind: fc.constantFrom('object', 'jsonpatch', 'raw'),
    rawBody: fc.oneof(fc.constant('{'), fc.constant('- a\n- : b'), fc.string({ maxLength: 30 }), fc.constant('k8s\u0000garbage'), fc.constant('a: &x [*x, *x]')),
    patchOps: fc.array(jsonPatchOp, { maxLength: 3 }),
    accept: fc.constantFrom('application/json', 'application/json;as=Table;v=v1;g=meta.k8s.io', '*/*'),
    fresh: fc.boolean(),
  })
  .chain((r) =>
    fc.record({ body: body(r.target[1], r.target[2]), fit: fc.integer({ min: 0, max: 9 }), patchType: fc.constantFrom(...PATCH_TYPES) }).map(({ body: b, fit, patchType }) => {
      // 7 in 10: a request that fits (the content type of its verb, the URL's name in the body), to reach the writes
      if (fit >= 7) return { ...r, body: b };
      const contentType = r.method === 'PATCH' ? patchType : FITTING_TYPE[r.method]!;
      const patchKind = contentType === 'application/json-patch+json' ? 'jsonpatch' : 'object';
      const named = typeof b === 'object' && b !== null && !Array.isArray(b) ? { ...b, metadata: { ...((b as { metadata?: object }).metadata ?? {}), name: r.name } } : b;
      const subresource = fit === 0 ? r.subresource : undefined;
      return { ...r, named: r.method !== 'POST', subresource, contentType, patchKind: patchKind as typeof r.patchKind, body: named };
    }),
  );

type Req = typeof request extends fc.Arbitrary<infer T> ? T : never;

function encodeSegment(s: string): string {
  // most names go encoded (as clients send them); some raw, to reach the router with odd bytes
  return /^[\w.-]*$/.test(s) ? s : encodeURIComponent(s);
}

function describeReq(r: Req, path: string): string {
  return `${r.method} ${path} [${r.contentType}] ${JSON.stringify(r.body).slice(0, 300)}`;
}

/** Reads an accepted object back and checks it is valid: schema, name, metadata rules. */
async function checkStored(r: Req, objName: string): Promise<void> {
  const [prefix, apiVersion, kindName] = r.target as readonly [string, string, string];
  const kind = kinds.find((k) => (k.group ? `${k.group}/${k.version}` : k.version) === apiVersion && k.kind === kindName)!;
  const res = await t.api(`${prefix}/${encodeURIComponent(objName)}`);
  if (res.status === 404) return; // deleted meanwhile (a finalizer-less delete) or a dry run
  expect(res.status).toBe(200);
  const obj = (await res.json()) as ApiObject;
  const parsed = kind.schema.safeParse(obj);
  expect(parsed.success, `stored ${kindName} does not validate: ${JSON.stringify(obj).slice(0, 500)}`).toBe(true);
  expect(strategies.for(kind).nameProblem(obj.metadata.name), `stored name ${JSON.stringify(obj.metadata.name)}`).toBeUndefined();
  expect(objectMetaCauses(obj), `stored metadata ${JSON.stringify(obj.metadata)}`).toEqual([]);
  if (kindName === 'Container' && prefix.includes('/strict/')) {
    const spec = obj.spec as Record<string, unknown>;
    expect(spec.runAsNonRoot, 'restricted namespace took a container without runAsNonRoot').toBe(true);
    expect(spec.readOnlyRootFilesystem).toBe(true);
  }
  if (kindName === 'Container') {
    const spec = obj.spec as Record<string, unknown>;
    expect(spec.network, 'baseline namespace took host network').not.toBe('host');
    expect(spec.privileged).not.toBe(true);
    expect(spec.seccompProfile).not.toBe('Unconfined');
  }
}

/** Answers by method and code, to show what the run reached (and to check it reached writes). */
const tally = new Map<string, number>();

async function send(r: Req): Promise<void> {
  const [prefix] = r.target as readonly [string, string, string];
  // deleting every namespace (or the fuzzer's own) would leave nothing to fuzz
  if (prefix === '/api/v1/namespaces' && r.method === 'DELETE' && (!r.named || ['fuzz', 'strict', 'default'].includes(r.name))) return;
  let path = prefix;
  if (r.named || r.method === 'PUT' || r.method === 'PATCH') path += `/${encodeSegment(r.name)}`;
  if (r.fresh && r.method === 'PUT' && !r.subresource && typeof r.body === 'object' && r.body !== null && !Array.isArray(r.body)) {
    // an update of the current object, as clients send one: with its resourceVersion
    const cur = await t.api(path);
    if (cur.status === 200) {
      const rv = ((await cur.json()) as Partial<ApiObject>).metadata?.resourceVersion;
      const b = r.body as { metadata?: Record<string, unknown> };
      r = { ...r, body: { ...b, metadata: { ...(b.metadata ?? {}), resourceVersion: rv } } } as Req;
    } else await cur.arrayBuffer();
  }
  if (r.subresource && path !== prefix) path += `/${r.subresource}`;
  const params = new URLSearchParams(Object.entries(r.query).filter(([, v]) => v !== undefined) as [string, string][]);
  const url = `${path}${params.size ? `?${params}` : ''}`;
  const headers: Record<string, string> = { accept: r.accept };
  if (r.contentType) headers['content-type'] = r.contentType;
  let payload: string | undefined;
  if (r.method !== 'GET') {
    if (r.patchKind === 'raw') payload = r.rawBody;
    else if (r.patchKind === 'jsonpatch' && r.method === 'PATCH') payload = JSON.stringify(r.patchOps);
    else payload = JSON.stringify(r.body);
  }
  const res = await t.api(url, { method: r.method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  const text = await res.text();
  const k = `${r.method} ${res.status}`;
  tally.set(k, (tally.get(k) ?? 0) + 1);
  if (process.env.FUZZ_DEBUG && k === process.env.FUZZ_DEBUG) console.log(url, text.slice(0, 200));
  expect(res.status, `500 for ${describeReq(r, url)}: ${text.slice(0, 500)}`).not.toBe(500);
  expect(res.status, describeReq(r, url)).toBeLessThan(500);
  if (res.status >= 400) {
    const status = JSON.parse(text) as { kind: string; code: number };
    expect(status.kind, `error answer is not a Status: ${text.slice(0, 200)}`).toBe('Status');
    expect(status.code).toBe(res.status);
    return;
  }
  if (r.method !== 'GET' && r.method !== 'DELETE' && !r.subresource && r.query.dryRun !== 'All') {
    const obj = JSON.parse(text) as ApiObject;
    if (obj?.metadata?.name) await checkStored(r, obj.metadata.name);
  }
}

describe('API fuzz', () => {
  it(`${RUNS} random requests: no 500, errors are Status objects, accepted objects are valid (seed ${SEED})`, async () => {
    const started = Date.now();
    await fc.assert(fc.asyncProperty(request, send), { numRuns: RUNS, seed: SEED, endOnFailure: true });
    const answers = [...tally].sort().map(([k, n]) => `${k}: ${n}`).join(', ');
    console.log(`API fuzz: ${RUNS} cases in ${((Date.now() - started) / 1000).toFixed(1)} s (seed ${SEED}); ${answers}`);
    // the run reached accepted writes of every verb, not only refusals
    for (const m of ['POST 201', 'PUT 200', 'PATCH 200', 'DELETE 200']) expect(tally.get(m) ?? 0, m).toBeGreaterThan(0);
  }, 600_000);
});
