/**
 * The node's registry client as one request of the node API may use it: with the credentials the
 * client sent (X-Registry-Auth, as dockerd takes them) and nothing else. The node's own saved
 * logins are never lent to an API caller, and a login checked through POST /auth is not saved
 * on the node (the client keeps its credentials, as the docker CLI does).
 *
 * The view shares everything else with the node's client (daemon.json mirrors and insecure
 * registries, certs.d, the blob-source records for cross-repository mounts, the scheme cache)
 * and replaces only its credential store, the one place the client looks logins up.
 */
import { CredentialStore, type Credentials, type Distribution } from '../runtime/index.js';

/** Answers the request's login for every registry; saves and removes nothing. */
class RequestCredentials extends CredentialStore {
  constructor(private readonly login: Credentials | undefined) {
    super('/nonexistent/berth-request-credentials.json');
  }

  override async get(): Promise<Credentials | undefined> {
    return this.login;
  }

  override async set(): Promise<void> {
    // a login checked for a client is the client's to keep
  }

  override async remove(): Promise<boolean> {
    return false;
  }
}

/** `distribution` as seen with only `login` (undefined: anonymous). */
export function registrySession(distribution: Distribution, login: Credentials | undefined): Distribution {
  return Object.create(distribution, { credentials: { value: new RequestCredentials(login), enumerable: true } }) as Distribution;
}
