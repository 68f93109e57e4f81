/**
 * The registry of `berth server` asks the API server who may do what: a Berth token presented to
 * the registry is sent, as the requester's own credential, with a SelfSubjectAccessReview for the
 * verb on registry.berth.dev/repositories. The API server authenticates it as any request (401:
 * nobody) and RBAC answers. Nothing of the store is read here; the request goes through the client.
 */
import type { Duplex } from 'node:stream';
import { ApiClient, ApiStatusError } from '../client/api-client.js';
import { inProcessKubeConfig } from '../client/kubeconfig.js';
import { REPOSITORY_GROUP, REPOSITORY_RESOURCE, type ApiAccess } from '../registry/policy.js';

const REVIEWS = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

/** ApiAccess over the API server's in-process transport (`connect`: ApiServer.connectInProcess). */
export function apiRegistryAccess(connect: () => Duplex): ApiAccess {
  return {
    async can(token, verb, namespace, repository) {
      const client = new ApiClient(inProcessKubeConfig(connect, token, 'registry-requester'));
      try {
        const review = await client.json<{ status?: { allowed?: boolean } }>('POST', REVIEWS, {}, {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SelfSubjectAccessReview',
          spec: { resourceAttributes: { group: REPOSITORY_GROUP, resource: REPOSITORY_RESOURCE, verb, namespace, name: repository } },
        });
        return review.status?.allowed === true;
      } catch (e) {
        if (e instanceof ApiStatusError && e.code === 401) return undefined;
        if (e instanceof ApiStatusError && e.code === 403) return false;
        throw e;
      } finally {
        client.close();
      }
    },
  };
}
