/**
 * Just enough of Kubernetes' protobuf encoding to read what kubectl sends for built-in kinds
 * (`kubectl create namespace` / `create secret` / `create role[binding]` post protobuf, `kubectl
 * delete` protobuf DeleteOptions, `kubectl auth can-i` protobuf access reviews).
 * Bodies are a "k8s\0" magic, then a runtime.Unknown {typeMeta, raw}; raw is the object message.
 * Replies stay JSON, which every client accepts.
 */
import { errors } from './status.js';

type Field = { no: number; wire: number; value: bigint | Buffer };

function varint(buf: Buffer, pos: { i: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos.i >= buf.length) throw errors.badRequest('protobuf body is truncated');
    const b = buf[pos.i++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return result;
    shift += 7n;
    if (shift > 63n) throw errors.badRequest('protobuf varint is too long');
  }
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  const pos = { i: 0 };
  while (pos.i < buf.length) {
    const tag = Number(varint(buf, pos));
    const no = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ no, wire, value: varint(buf, pos) });
    else if (wire === 2) {
      const len = Number(varint(buf, pos));
      if (pos.i + len > buf.length) throw errors.badRequest('protobuf body is truncated');
      out.push({ no, wire, value: buf.subarray(pos.i, pos.i + len) });
      pos.i += len;
    } else if (wire === 1) pos.i += 8;
    else if (wire === 5) pos.i += 4;
    else throw errors.badRequest(`protobuf wire type ${wire} is not supported`);
  }
  return out;
}

const str = (f: Field): string => (Buffer.isBuffer(f.value) ? f.value.toString('utf8') : String(f.value));
const bytes = (f: Field): Buffer => (Buffer.isBuffer(f.value) ? f.value : Buffer.alloc(0));

function stringMap(entries: Field[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    let k = '';
    let v = '';
    for (const f of fields(bytes(e))) {
      if (f.no === 1) k = str(f);
      if (f.no === 2) v = str(f);
    }
    out[k] = v;
  }
  return out;
}

function objectMeta(buf: Buffer): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  const fs = fields(buf);
  for (const f of fs) {
    if (f.no === 1) m.name = str(f);
    if (f.no === 2) m.generateName = str(f);
    if (f.no === 3) m.namespace = str(f);
    if (f.no === 6) m.resourceVersion = str(f);
  }
  const labels = fs.filter((f) => f.no === 11);
  const annotations = fs.filter((f) => f.no === 12);
  const finalizers = fs.filter((f) => f.no === 14).map(str);
  if (labels.length) m.labels = stringMap(labels);
  if (annotations.length) m.annotations = stringMap(annotations);
  if (finalizers.length) m.finalizers = finalizers;
  return m;
}

function namespace(raw: Buffer): Record<string, unknown> {
  const obj: Record<string, unknown> = { apiVersion: 'v1', kind: 'Namespace' };
  for (const f of fields(raw)) {
    if (f.no === 1) obj.metadata = objectMeta(bytes(f));
  }
  return obj;
}

function secret(raw: Buffer): Record<string, unknown> {
  const obj: Record<string, unknown> = { apiVersion: 'v1', kind: 'Secret' };
  const fs = fields(raw);
  const data: Record<string, string> = {};
  for (const f of fs) {
    if (f.no === 1) obj.metadata = objectMeta(bytes(f));
    if (f.no === 2) {
      let k = '';
      let v: Buffer = Buffer.alloc(0);
      for (const e of fields(bytes(f))) {
        if (e.no === 1) k = str(e);
        if (e.no === 2) v = bytes(e);
      }
      data[k] = v.toString('base64');
    }
    if (f.no === 3) obj.type = str(f);
    if (f.no === 5) obj.immutable = f.value === 1n;
  }
  const stringData = fs.filter((f) => f.no === 4);
  if (Object.keys(data).length) obj.data = data;
  if (stringData.length) obj.stringData = stringMap(stringData);
  return obj;
}

function deleteOptions(raw: Buffer): Record<string, unknown> {
  const obj: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
  const dryRun: string[] = [];
  for (const f of fields(raw)) {
    if (f.no === 1) obj.gracePeriodSeconds = Number(f.value);
    if (f.no === 2) {
      const pre: Record<string, string> = {};
      for (const p of fields(bytes(f))) {
        if (p.no === 1) pre.uid = str(p);
        if (p.no === 2) pre.resourceVersion = str(p);
      }
      obj.preconditions = pre;
    }
    if (f.no === 3) obj.orphanDependents = f.value === 1n;
    if (f.no === 4) obj.propagationPolicy = str(f);
    if (f.no === 5) dryRun.push(str(f));
  }
  if (dryRun.length) obj.dryRun = dryRun;
  return obj;
}

function strings(fs: Field[], no: number): string[] | undefined {
  const out = fs.filter((f) => f.no === no).map(str);
  return out.length ? out : undefined;
}

/** Fields of `raw` by number into an object of strings: { 1: 'name', 2: 'kind' }. */
function stringFields(raw: Buffer, names: Record<number, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields(raw)) if (names[f.no]) out[names[f.no]!] = str(f);
  return out;
}

function policyRule(raw: Buffer): Record<string, unknown> {
  const fs = fields(raw);
  const rule: Record<string, unknown> = { verbs: strings(fs, 1) ?? [] };
  for (const [no, key] of [[2, 'apiGroups'], [3, 'resources'], [4, 'resourceNames'], [5, 'nonResourceURLs']] as const) {
    const v = fs.filter((f) => f.no === no).map(str);
    // apiGroups [""] is one empty string: keep it
    if (v.length) rule[key] = v;
  }
  return rule;
}

function role(kind: 'Role' | 'ClusterRole') {
  return (raw: Buffer): Record<string, unknown> => {
    const obj: Record<string, unknown> = { apiVersion: 'rbac.authorization.k8s.io/v1', kind };
    const rules: Record<string, unknown>[] = [];
    for (const f of fields(raw)) {
      if (f.no === 1) obj.metadata = objectMeta(bytes(f));
      if (f.no === 2) rules.push(policyRule(bytes(f)));
    }
    obj.rules = rules;
    return obj;
  };
}

function binding(kind: 'RoleBinding' | 'ClusterRoleBinding') {
  return (raw: Buffer): Record<string, unknown> => {
    const obj: Record<string, unknown> = { apiVersion: 'rbac.authorization.k8s.io/v1', kind };
    const subjects: Record<string, string>[] = [];
    for (const f of fields(raw)) {
      if (f.no === 1) obj.metadata = objectMeta(bytes(f));
      if (f.no === 2) subjects.push(stringFields(bytes(f), { 1: 'kind', 2: 'apiGroup', 3: 'name', 4: 'namespace' }));
      if (f.no === 3) obj.roleRef = stringFields(bytes(f), { 1: 'apiGroup', 2: 'kind', 3: 'name' });
    }
    if (subjects.length) obj.subjects = subjects;
    return obj;
  };
}

const RESOURCE_ATTRIBUTES = { 1: 'namespace', 2: 'verb', 3: 'group', 4: 'version', 5: 'resource', 6: 'subresource', 7: 'name' };

function accessReview(kind: string) {
  return (raw: Buffer): Record<string, unknown> => {
    const obj: Record<string, unknown> = { apiVersion: 'authorization.k8s.io/v1', kind };
    for (const f of fields(raw)) {
      if (f.no === 1) obj.metadata = objectMeta(bytes(f));
      if (f.no !== 2) continue;
      const spec: Record<string, unknown> = {};
      const sfs = fields(bytes(f));
      if (kind === 'SelfSubjectRulesReview') {
        Object.assign(spec, stringFields(bytes(f), { 1: 'namespace' }));
      } else {
        for (const s of sfs) {
          if (s.no === 1) spec.resourceAttributes = stringFields(bytes(s), RESOURCE_ATTRIBUTES);
          if (s.no === 2) spec.nonResourceAttributes = stringFields(bytes(s), { 1: 'path', 2: 'verb' });
          if (s.no === 3) spec.user = str(s);
          if (s.no === 6) spec.uid = str(s);
        }
        const groups = strings(sfs, 4);
        if (groups) spec.groups = groups;
      }
      obj.spec = spec;
    }
    return obj;
  };
}

const DECODERS: Record<string, (raw: Buffer) => Record<string, unknown>> = {
  'v1/Namespace': namespace,
  'v1/Secret': secret,
  'rbac.authorization.k8s.io/v1/Role': role('Role'),
  'rbac.authorization.k8s.io/v1/ClusterRole': role('ClusterRole'),
  'rbac.authorization.k8s.io/v1/RoleBinding': binding('RoleBinding'),
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': binding('ClusterRoleBinding'),
  'authorization.k8s.io/v1/SelfSubjectAccessReview': accessReview('SelfSubjectAccessReview'),
  'authorization.k8s.io/v1/SubjectAccessReview': accessReview('SubjectAccessReview'),
  'authorization.k8s.io/v1/LocalSubjectAccessReview': accessReview('LocalSubjectAccessReview'),
  'authorization.k8s.io/v1/SelfSubjectRulesReview': accessReview('SelfSubjectRulesReview'),
  'v1/DeleteOptions': deleteOptions,
  'meta.k8s.io/v1/DeleteOptions': deleteOptions,
};

export function decodeProtobuf(body: Buffer): unknown {
  if (body.length < 4 || body.subarray(0, 4).toString('latin1') !== 'k8s\0') {
    throw errors.badRequest('protobuf body lacks the k8s envelope');
  }
  let apiVersion = '';
  let kind = '';
  let raw: Buffer = Buffer.alloc(0);
  for (const f of fields(body.subarray(4))) {
    if (f.no === 1) {
      for (const t of fields(bytes(f))) {
        if (t.no === 1) apiVersion = str(t);
        if (t.no === 2) kind = str(t);
      }
    }
    if (f.no === 2) raw = bytes(f);
  }
  const decode = DECODERS[`${apiVersion}/${kind}`];
  if (!decode) throw errors.unsupportedMediaType(`application/vnd.kubernetes.protobuf (${apiVersion} ${kind}; send JSON)`);
  return decode(raw);
}
