/**
 * authorization.k8s.io/v1: SelfSubjectAccessReview (may I?, what `kubectl auth can-i` asks),
 * SubjectAccessReview (may this user?, for whoever may create them: cluster-admin),
 * LocalSubjectAccessReview (the same within one namespace) and SelfSubjectRulesReview (what may I
 * do here?, `kubectl auth can-i --list`). Nothing is stored: the answer is the request with a status.
 */
import type { Request, Response } from 'express';
import type { PolicyRule } from '../../api/rbac.js';
import { parseBody } from '../body.js';
import { isObject, type JsonObject } from '../objects.js';
import { errors, type StatusCause } from '../status.js';
import type { RequestAttributes } from './attributes.js';
import type { UserInfo } from './authn.js';
import type { RbacAuthorizer } from './rbac.js';

export const AUTHZ_GROUP = 'authorization.k8s.io';
const API_VERSION = `${AUTHZ_GROUP}/v1`;

/** Discovery of authorization.k8s.io/v1, as kube-apiserver serves it. */
export function authorizationResourceList(): object {
  const r = (name: string, kind: string, namespaced = false) => ({ name, singularName: '', namespaced, kind, verbs: ['create'] });
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: API_VERSION,
    resources: [
      r('localsubjectaccessreviews', 'LocalSubjectAccessReview', true),
      r('selfsubjectaccessreviews', 'SelfSubjectAccessReview'),
      r('selfsubjectrulesreviews', 'SelfSubjectRulesReview'),
      r('subjectaccessreviews', 'SubjectAccessReview'),
    ],
  };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function invalid(kind: string, causes: StatusCause[]) {
  return errors.invalid({ group: AUTHZ_GROUP, plural: `${kind.toLowerCase()}s`, kind }, '', causes);
}

/** The attributes a review asks about, from spec.resourceAttributes or spec.nonResourceAttributes. */
function reviewAttributes(kind: string, spec: JsonObject, namespace?: string): RequestAttributes {
  const ra = spec.resourceAttributes;
  const nra = spec.nonResourceAttributes;
  if (isObject(ra) === isObject(nra)) {
    throw invalid(kind, [{ reason: 'FieldValueRequired', field: 'spec.resourceAttributes', message: 'Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified' }]);
  }
  if (isObject(nra)) {
    return { verb: str(nra.verb), resourceRequest: false, path: str(nra.path), apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
  }
  const r = ra as JsonObject;
  const ns = str(r.namespace);
  if (namespace !== undefined && ns !== namespace) {
    throw invalid(kind, [{ reason: 'FieldValueInvalid', field: 'spec.resourceAttributes.namespace', message: `Invalid value: "${ns}": must match metadata.namespace` }]);
  }
  return {
    verb: str(r.verb),
    resourceRequest: true,
    path: '',
    apiGroup: str(r.group),
    apiVersion: str(r.version),
    resource: str(r.resource),
    subresource: str(r.subresource),
    namespace: ns,
    name: str(r.name),
  };
}

function bodyOf(req: Request): JsonObject {
  const body = parseBody(Buffer.isBuffer(req.body) ? req.body : undefined, req.get('content-type') ?? 'application/json');
  if (!isObject(body)) throw errors.badRequest('the request body must be a JSON or YAML object');
  if (!isObject(body.spec)) throw errors.badRequest('spec is required');
  return body;
}

function answer(res: Response, kind: string, body: JsonObject, status: object): void {
  res.status(201).json({ kind, apiVersion: API_VERSION, metadata: { ...(isObject(body.metadata) ? body.metadata : {}), creationTimestamp: null }, spec: body.spec, status });
}

/** Handles POSTs under /apis/authorization.k8s.io/v1/; `user` is the authenticated requester. */
export async function serveReview(rbac: RbacAuthorizer, user: UserInfo, rest: string[], req: Request, res: Response): Promise<void> {
  if (req.method !== 'POST') throw errors.methodNotAllowed(req.method);
  const [a, b, c] = rest;
  if (rest.length === 1 && a === 'selfsubjectaccessreviews') {
    const body = bodyOf(req);
    const d = await rbac.decide(user, reviewAttributes('SelfSubjectAccessReview', body.spec as JsonObject));
    return answer(res, 'SelfSubjectAccessReview', body, { allowed: d.allowed, ...(d.reason ? { reason: d.reason } : {}) });
  }
  if ((rest.length === 1 && a === 'subjectaccessreviews') || (rest.length === 3 && a === 'namespaces' && c === 'localsubjectaccessreviews')) {
    const kind = rest.length === 1 ? 'SubjectAccessReview' : 'LocalSubjectAccessReview';
    const body = bodyOf(req);
    const spec = body.spec as JsonObject;
    const subject: UserInfo = { name: str(spec.user), groups: Array.isArray(spec.groups) ? spec.groups.filter((g): g is string => typeof g === 'string') : [] };
    if (!subject.name && subject.groups.length === 0) {
      throw invalid(kind, [{ reason: 'FieldValueRequired', field: 'spec.user', message: 'Required value: at least one of user or group must be specified' }]);
    }
    const d = await rbac.decide(subject, reviewAttributes(kind, spec, rest.length === 3 ? b : undefined));
    return answer(res, kind, body, { allowed: d.allowed, ...(d.reason ? { reason: d.reason } : {}) });
  }
  if (rest.length === 1 && a === 'selfsubjectrulesreviews') {
    const body = bodyOf(req);
    const ns = str((body.spec as JsonObject).namespace);
    const rules = await rbac.rulesFor(user, ns);
    const resourceRules = rules.filter((r) => (r.resources ?? []).length > 0).map((r: PolicyRule) => ({ verbs: r.verbs, apiGroups: r.apiGroups ?? [], resources: r.resources ?? [], ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}) }));
    const nonResourceRules = rules.filter((r) => (r.nonResourceURLs ?? []).length > 0).map((r) => ({ verbs: r.verbs, nonResourceURLs: r.nonResourceURLs ?? [] }));
    return answer(res, 'SelfSubjectRulesReview', body, { resourceRules, nonResourceRules, incomplete: false });
  }
  throw errors.pathNotFound(req.path);
}
