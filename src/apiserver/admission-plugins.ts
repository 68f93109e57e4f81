/**
 * Admission plugins: checks that need more than the object (who writes it, the namespace it goes
 * in), run by the registry after the kind's own validation and before anything is written, on every
 * create and update through every path (REST, patch, apply, dry run). RBAC escalation prevention
 * (auth/escalation.ts) and Pod-Security-like container admission (pod-security.ts) are plugins.
 */
import type { KindInfo } from '../api/kind.js';
import type { ApiObject } from '../api/meta.js';
import type { UserInfo } from './auth/authn.js';
import type { Subresource } from './strategy.js';

export interface AdmissionRequest {
  kind: KindInfo;
  operation: 'CREATE' | 'UPDATE';
  /** The object as it would be written (validated, defaulted, canonical). */
  object: ApiObject;
  old?: ApiObject;
  sub: Subresource;
  /** The requester; undefined for writes the server makes itself. */
  user?: UserInfo;
}

/** Throws an ApiError (403, 422...) to refuse; returns to let the write through. */
export type AdmissionPlugin = (r: AdmissionRequest) => Promise<void> | void;
