/**
 * What a request asks to do, in the terms RBAC rules speak (kube-apiserver's RequestInfo): a verb on
 * a resource (API group, resource, subresource, namespace, name), or a verb on a non-resource path.
 * GET is get (one object) or list, with ?watch watch; POST create; PUT update; PATCH patch; DELETE
 * delete or deletecollection. exec and attach are create whatever the method (a WebSocket exec is
 * a GET), as Kubernetes authorises them; proxy, log, archive and build follow the method.
 */
import type { UserInfo } from './authn.js';

export interface RequestAttributes {
  verb: string;
  /** false: a non-resource path such as /metrics, /api, /openapi/v3. */
  resourceRequest: boolean;
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export interface Attributes extends RequestAttributes {
  user: UserInfo;
}

const ALWAYS_CREATE = new Set(['exec', 'attach']);
/** Subresources of a namespace itself: /api/v1/namespaces/NS/status is namespaces/status. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The name a list or watch is limited to by fieldSelector=metadata.name=NAME, as Kubernetes reads it. */
function nameFromFieldSelector(query: URLSearchParams): string {
  const sel = query.get('fieldSelector');
  if (!sel) return '';
  for (const term of sel.split(',')) {
    const m = /^\s*metadata\.name\s*==?\s*(.*?)\s*$/.exec(term);
    if (m) return m[1]!;
  }
  return '';
}

/** The attributes of `method` on `url` (path and query). */
export function requestAttributes(method: string, url: string): RequestAttributes {
  const u = new URL(url, 'http://apiserver');
  const path = u.pathname;
  const nonResource: RequestAttributes = { verb: method.toLowerCase(), resourceRequest: false, path, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
  const parts = path.split('/').filter((p) => p !== '');
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    [group, version, rest] = ['', parts[1]!, parts.slice(2)];
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  } else {
    return nonResource;
  }
  rest = rest.map(decode);
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length > 1) {
    namespace = rest[1]!;
    if (rest.length > 2 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)) rest = rest.slice(2);
  }
  const [resource = '', name = '', subresource = ''] = rest;
  const m = method.toUpperCase();
  let verb: string;
  const watch = u.searchParams.get('watch');
  const watching = watch === 'true' || watch === '1';
  switch (m) {
    case 'GET':
    case 'HEAD':
      verb = name ? (watching ? 'watch' : 'get') : watching ? 'watch' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      verb = m.toLowerCase();
  }
  if (subresource && ALWAYS_CREATE.has(subresource)) verb = 'create';
  const listName = !name && (verb === 'list' || verb === 'watch') ? nameFromFieldSelector(u.searchParams) : '';
  return { verb, resourceRequest: true, path, apiGroup: group, apiVersion: version, resource, subresource, namespace, name: name || listName };
}
