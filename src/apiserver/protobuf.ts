/**
 * Just enough of Kubernetes' protobuf encoding to read what kubectl sends for built-in kinds
 * (`kubectl create namespace` / `create secret` post protobuf, `kubectl delete` protobuf DeleteOptions).
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

const DECODERS: Record<string, (raw: Buffer) => Record<string, unknown>> = {
  'v1/Namespace': namespace,
  'v1/Secret': secret,
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
