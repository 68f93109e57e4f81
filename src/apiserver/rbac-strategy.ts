/**
 * Strategies of the RBAC kinds: a binding's roleRef cannot change (delete and create the binding
 * again, as Kubernetes asks), a RoleBinding's roleRef names a Role or a ClusterRole, and only a
 * ClusterRole may have rules on non-resource URLs. Names are path segments, as Kubernetes' RBAC
 * names: `system:node` is one.
 */

/** RBAC names: anything that is a path segment (no '/', '%', '.', '..' or control characters). */
function rbacNameProblem(name: string): string | undefined {
  return pathSegmentProblem(name);
}
import type { ApiObject } from '../api/meta.js';
import { pathSegmentProblem } from './meta-validation.js';
import { isObject, deepEqual } from './objects.js';
import type { StatusCause } from './status.js';
import { DefaultStrategy, type Subresource } from './strategy.js';

export class RoleStrategy extends DefaultStrategy {
  override nameProblem(name: string): string | undefined {
    return rbacNameProblem(name);
  }

  override validate(obj: ApiObject): StatusCause[] {
    if (obj.kind !== 'Role' || !Array.isArray(obj.rules)) return [];
    const causes: StatusCause[] = [];
    (obj.rules as unknown[]).forEach((r, i) => {
      if (isObject(r) && Array.isArray(r.nonResourceURLs) && r.nonResourceURLs.length > 0) {
        causes.push({ reason: 'FieldValueInvalid', field: `rules[${i}].nonResourceURLs`, message: 'Invalid value: namespaced rules cannot apply to non-resource URLs' });
      }
    });
    return causes;
  }

  override validateUpdate(next: ApiObject, _old: ApiObject, _sub: Subresource): StatusCause[] {
    return this.validate(next);
  }
}

export class BindingStrategy extends DefaultStrategy {
  override nameProblem(name: string): string | undefined {
    return rbacNameProblem(name);
  }

  override validateUpdate(next: ApiObject, old: ApiObject, _sub: Subresource): StatusCause[] {
    if (deepEqual(next.roleRef, old.roleRef)) return [];
    return [{ reason: 'FieldValueInvalid', field: 'roleRef', message: `Invalid value: ${JSON.stringify(next.roleRef)}: cannot change roleRef` }];
  }
}
