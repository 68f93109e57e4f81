/**
 * The one door of authentication and authorisation: every request to the API (HTTPS, the
 * in-process transport, WebSocket upgrades) passes here before any handler runs. 401 without a
 * valid credential; 403 with Kubernetes' message when RBAC allows nothing that matches:
 * `containers.berth.dev "x" is forbidden: User "alice" cannot create resource "containers" in API
 * group "berth.dev" in the namespace "default"`.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError, errors } from '../status.js';
import { requestAttributes, type Attributes } from './attributes.js';
import { AUTHENTICATED_GROUP, type Authenticator, type UserInfo } from './authn.js';
import type { RbacAuthorizer } from './rbac.js';

/** Kubernetes' forbiddenMessage: what the user cannot do, where. */
export function forbiddenReason(a: Attributes): string {
  const user = JSON.stringify(a.user.name);
  if (!a.resourceRequest) return `User ${user} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const where = a.namespace ? `in the namespace ${JSON.stringify(a.namespace)}` : 'at the cluster scope';
  return `User ${user} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} ${where}`;
}

/** The 403 Status for a denied request; `name` is the object's (from the body on a create), if known. */
export function forbidden(a: Attributes, name = a.name): ApiError {
  const why = forbiddenReason(a);
  if (!a.resourceRequest) return new ApiError(403, 'Forbidden', `forbidden: ${why}`, {});
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const message = name ? `${qualified} ${JSON.stringify(name)} is forbidden: ${why}` : `${qualified} is forbidden: ${why}`;
  return new ApiError(403, 'Forbidden', message, { ...(name ? { name } : {}), group: a.apiGroup, kind: a.resource });
}

export class AuthDoor {
  constructor(
    readonly authenticator: Authenticator,
    readonly authorizer: RbacAuthorizer,
  ) {}

  /**
   * Who `req` acts as; 401 when nobody valid sent it. With Impersonate-User (and Impersonate-Group)
   * headers, as `kubectl --as` sends them, the sender must be allowed to `impersonate` that user and
   * those groups (cluster-admin is); the request then acts as them.
   */
  async authenticate(req: IncomingMessage): Promise<UserInfo> {
    const user = await this.authenticator.authenticate(req);
    if (!user) throw errors.unauthorized();
    const as = req.headers['impersonate-user'];
    const asGroups = ([] as string[]).concat(req.headers['impersonate-group'] ?? []);
    if (as === undefined) {
      if (asGroups.length > 0) throw errors.badRequest('Impersonate-Group needs Impersonate-User');
      return user;
    }
    const name = String(as);
    const check = async (resource: string, value: string): Promise<void> => {
      const a: Attributes = { user, verb: 'impersonate', resourceRequest: true, path: '', apiGroup: '', apiVersion: 'v1', resource, subresource: '', namespace: '', name: value };
      if (!(await this.authorizer.authorize(a)).allowed) throw forbidden(a);
    };
    await check('users', name);
    for (const g of asGroups) await check('groups', g);
    return { name, groups: [...asGroups.filter((g) => g !== AUTHENTICATED_GROUP), AUTHENTICATED_GROUP] };
  }

  /**
   * Authenticates and authorises `req`; `nameOf` gives the object's name for the message of a
   * refused create (read from the body only then).
   */
  async admit(req: IncomingMessage, nameOf?: () => Promise<string | undefined>): Promise<{ user: UserInfo; attributes: Attributes }> {
    const user = await this.authenticate(req);
    const attributes: Attributes = { ...requestAttributes(req.method ?? 'GET', req.url ?? '/'), user };
    const decision = await this.authorizer.authorize(attributes);
    if (!decision.allowed) {
      const name = attributes.name || (attributes.verb === 'create' && !attributes.subresource && nameOf ? await nameOf().catch(() => undefined) : undefined);
      throw forbidden(attributes, name);
    }
    return { user, attributes };
  }
}
