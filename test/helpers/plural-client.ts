/**
 * The tests' shorthand for the API client: berth.dev objects addressed by plural, as the tests
 * were first written against (`client.get('containers', 'default', 'web')`). Everything goes
 * through src/client's ApiClient over HTTPS.
 */
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { ApiClient, type KObject, type ResourceClient } from '../../src/client/api-client.js';
import { kinds } from '../../src/api/registry.js';

export type { KObject };

export class PluralClient {
  /** client-node's own generated APIs on the same connection, for what tests do as a user's program would. */
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;

  constructor(readonly api: ApiClient) {
    this.core = api.kc.makeApiClient(CoreV1Api);
    this.custom = api.kc.makeApiClient(CustomObjectsApi);
  }

  static fromFile(path: string): PluralClient {
    return new PluralClient(ApiClient.fromFile(path));
  }

  private r(plural: string): ResourceClient {
    const k = kinds.find((x) => x.group === 'berth.dev' && x.plural === plural) ?? kinds.find((x) => x.plural === plural);
    if (!k) throw new Error(`no kind with plural ${plural}`);
    return this.api.resource(k);
  }

  get(plural: string, namespace: string | undefined, name: string): Promise<KObject> {
    return this.r(plural).get(namespace, name);
  }

  list(plural: string, o: { namespace?: string; fieldSelector?: string; labelSelector?: string } = {}): Promise<{ items: KObject[] }> {
    return this.r(plural).list(o);
  }

  create(plural: string, namespace: string | undefined, body: object): Promise<KObject> {
    return this.r(plural).create(namespace, body);
  }

  /** JSON merge patch of the object. */
  patch(plural: string, namespace: string | undefined, name: string, body: object): Promise<KObject> {
    return this.r(plural).patch(namespace, name, body);
  }

  patchStatus(plural: string, namespace: string | undefined, name: string, status: Record<string, unknown>): Promise<KObject> {
    return this.r(plural).patchStatus(namespace, name, status);
  }
}
