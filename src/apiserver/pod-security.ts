/**
 * Container admission per namespace, in the manner of Kubernetes' Pod Security Standards: the
 * namespace label berth.dev/enforce is privileged, baseline or restricted (the server's default,
 * baseline unless --pod-security-default says otherwise, when the label is absent).
 * - privileged: anything goes.
 * - baseline: no privileged containers, no host paths outside the server's allowed list, no host
 *   network, no capabilities added beyond Docker's default set, no Unconfined seccomp.
 * - restricted: baseline, and no host paths at all, runAsNonRoot with a user that is not root, a
 *   read-only root filesystem, capDrop ALL and nothing added but NET_BIND_SERVICE.
 * It applies to whoever writes (the admin too: label the namespace privileged to run such
 * containers), on create and on every change of spec. A refusal is 403 Forbidden naming each rule
 * and field. A namespace label with another value is refused (422).
 */
import type { ApiObject } from '../api/meta.js';
import type { AdmissionPlugin } from './admission-plugins.js';
import { deepEqual, isObject } from './objects.js';
import { ApiError, errors, type StatusCause } from './status.js';
import type { Store } from '../store/types.js';

export const ENFORCE_LABEL = 'berth.dev/enforce';
export const POD_SECURITY_LEVELS = ['privileged', 'baseline', 'restricted'] as const;
export type PodSecurityLevel = (typeof POD_SECURITY_LEVELS)[number];

export interface PodSecurityOptions {
  /** Level of a namespace without the label (default baseline). */
  defaultLevel?: PodSecurityLevel;
  /** Host paths baseline allows (a path and what is below it); none by default. */
  allowedHostPaths?: string[];
}

/** Docker's default capability set: what baseline lets capAdd name. */
export const DOCKER_DEFAULT_CAPS = ['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'NET_RAW', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'];

export function parseLevel(v: string): PodSecurityLevel {
  if ((POD_SECURITY_LEVELS as readonly string[]).includes(v)) return v as PodSecurityLevel;
  throw new Error(`pod security level must be one of ${POD_SECURITY_LEVELS.join(', ')}, got "${v}"`);
}

const capName = (c: string): string => c.toUpperCase().replace(/^CAP_/, '');

/** `path` is `allowed` or below it, component by component (no `..` games: paths are normalised by the schema). */
function under(path: string, allowed: string): boolean {
  const a = allowed.length > 1 ? allowed.replace(/\/+$/, '') : allowed;
  return a === '/' || path === a || path.startsWith(`${a}/`);
}

interface Violation {
  rule: string;
  field: string;
  detail: string;
}

/** What `spec` breaks at `level` ([] when it may run). */
export function podSecurityViolations(spec: Record<string, unknown>, level: PodSecurityLevel, allowedHostPaths: readonly string[]): Violation[] {
  if (level === 'privileged') return [];
  const out: Violation[] = [];
  if (spec.privileged === true) out.push({ rule: 'privileged', field: 'spec.privileged', detail: 'must not be true' });
  const mounts = Array.isArray(spec.volumeMounts) ? spec.volumeMounts : [];
  mounts.forEach((m: unknown, i) => {
    if (!isObject(m) || typeof m.hostPath !== 'string') return;
    const path = m.hostPath;
    if (level === 'restricted') out.push({ rule: 'hostPath volumes', field: `spec.volumeMounts[${i}].hostPath`, detail: `"${path}": no host paths at the restricted level` });
    else if (!allowedHostPaths.some((a) => under(path, a))) {
      out.push({ rule: 'hostPath volumes', field: `spec.volumeMounts[${i}].hostPath`, detail: `"${path}" is outside the allowed host paths (${allowedHostPaths.length ? allowedHostPaths.join(', ') : 'none'})` });
    }
  });
  if (spec.network === 'host') out.push({ rule: 'host namespaces', field: 'spec.network', detail: 'must not be host' });
  const add = Array.isArray(spec.capAdd) ? (spec.capAdd as string[]).map(capName) : [];
  const allowedAdd = level === 'restricted' ? ['NET_BIND_SERVICE'] : DOCKER_DEFAULT_CAPS;
  add.forEach((c, i) => {
    if (!allowedAdd.includes(c)) out.push({ rule: 'capabilities', field: `spec.capAdd[${i}]`, detail: `"${c}" is not allowed (allowed: ${allowedAdd.join(', ')})` });
  });
  if (spec.seccompProfile === 'Unconfined') out.push({ rule: 'seccomp', field: 'spec.seccompProfile', detail: 'must not be Unconfined' });
  if (level === 'restricted') {
    const user = typeof spec.user === 'string' ? spec.user.split(':')[0] : undefined;
    if (spec.runAsNonRoot !== true) out.push({ rule: 'runAsNonRoot', field: 'spec.runAsNonRoot', detail: 'must be true' });
    else if (user === '0' || user === 'root') out.push({ rule: 'runAsNonRoot', field: 'spec.user', detail: `"${String(spec.user)}" runs as root` });
    if (spec.readOnlyRootFilesystem !== true) out.push({ rule: 'readOnlyRootFilesystem', field: 'spec.readOnlyRootFilesystem', detail: 'must be true' });
    const drop = Array.isArray(spec.capDrop) ? (spec.capDrop as string[]).map(capName) : [];
    if (!drop.includes('ALL')) out.push({ rule: 'capabilities', field: 'spec.capDrop', detail: 'must include ALL' });
  }
  return out;
}

function refusal(obj: ApiObject, level: PodSecurityLevel, namespace: string, violations: Violation[]): ApiError {
  const rules = violations.map((v) => `${v.rule} (${v.field} ${v.detail})`).join(', ');
  const causes: StatusCause[] = violations.map((v) => ({ reason: 'FieldValueForbidden', field: v.field, message: `Forbidden: ${v.rule}: ${v.detail}` }));
  return new ApiError(403, 'Forbidden', `containers.berth.dev ${JSON.stringify(obj.metadata.name)} is forbidden: violates PodSecurity "${level}" of namespace "${namespace}": ${rules}`, {
    name: obj.metadata.name,
    group: 'berth.dev',
    kind: 'containers',
    causes,
  });
}

export function podSecurityAdmission(store: Store, o: PodSecurityOptions = {}): AdmissionPlugin {
  const defaultLevel = o.defaultLevel ?? 'baseline';
  const allowed = o.allowedHostPaths ?? [];
  return async ({ kind, object, old, sub }) => {
    if (kind.group === '' && kind.plural === 'namespaces') {
      const v = object.metadata.labels?.[ENFORCE_LABEL];
      if (v !== undefined && !(POD_SECURITY_LEVELS as readonly string[]).includes(v)) {
        throw errors.invalid(kind, object.metadata.name, [
          { reason: 'FieldValueNotSupported', field: `metadata.labels[${ENFORCE_LABEL}]`, message: `Unsupported value: "${v}": supported values: ${POD_SECURITY_LEVELS.map((l) => `"${l}"`).join(', ')}` },
        ]);
      }
      return;
    }
    if (kind.group !== 'berth.dev' || kind.plural !== 'containers' || sub !== undefined) return;
    // a change that leaves spec alone (finalizers, labels) is not judged again
    if (old && deepEqual(old.spec, object.spec)) return;
    const namespace = object.metadata.namespace ?? '';
    const ns = await store.get({ resource: 'core/namespaces', namespace: '', name: namespace });
    const label = ns?.metadata.labels?.[ENFORCE_LABEL];
    const level: PodSecurityLevel = label === undefined ? defaultLevel : (POD_SECURITY_LEVELS as readonly string[]).includes(label) ? (label as PodSecurityLevel) : 'restricted';
    const violations = podSecurityViolations(isObject(object.spec) ? object.spec : {}, level, allowed);
    if (violations.length > 0) throw refusal(object, level, namespace, violations);
  };
}
