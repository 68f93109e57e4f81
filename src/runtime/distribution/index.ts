import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageStore } from '../images/store.js';
import { invalid } from '../util/errors.js';
import { failure, readBody, RegistryClient } from './client.js';
import { endpointsFor, type DistributionConfig } from './config.js';
import { CredentialStore, type Credentials } from './credentials.js';
import { pullImage, type PullOptions, type PullResult } from './pull.js';
import { pushImage, type PushOptions, type PushResult } from './push.js';
import { DOCKER_HUB, DOCKER_HUB_API, parseRemoteReference, type RemoteReference } from './reference.js';
import { BlobSources } from './sources.js';

export interface DistributionOptions {
  images: ImageStore;
  /** Runtime state root (blob-source records live under it). */
  root: string;
  config?: DistributionConfig;
  /** config.json with saved logins (Docker's format). */
  credentialsPath: string;
}

/** Registry client of the runtime: pull, push, login/logout and catalog search. */
export class Distribution {
  readonly credentials: CredentialStore;
  private readonly sources: BlobSources;
  private readonly config: DistributionConfig;
  /** Which scheme an insecure registry answered on (so the https probe happens once per host). */
  private readonly schemes = new Map<string, 'http' | 'https'>();

  constructor(private readonly o: DistributionOptions) {
    this.credentials = new CredentialStore(o.credentialsPath);
    this.sources = new BlobSources(o.root);
    this.config = o.config ?? { mirrors: [], insecure: [] };
  }

  /**
   * Endpoints for a registry in the order to try them: Docker Hub mirrors first, then the registry
   * itself: https (checked against certs.d/<host>/ca.crt when present), or for an insecure registry
   * (loopback, or listed in daemon.json) https without verification and then plain http, as Docker does.
   */
  private async endpoints(registry: string, creds?: Credentials): Promise<Array<{ client: RegistryClient; fallback: boolean }>> {
    const c = creds ?? (await this.credentials.get(registry));
    const out: Array<{ client: RegistryClient; fallback: boolean }> = [];
    for (const e of endpointsFor(registry, this.config, registry === DOCKER_HUB ? DOCKER_HUB_API : registry)) {
      const credentials = e.mirror ? undefined : c;
      const host = new URL(e.base).host;
      const ca = this.config.certsDir ? await readFile(join(this.config.certsDir, host, 'ca.crt'), 'utf8').catch(() => undefined) : undefined;
      if (e.insecure && e.base.startsWith('http:') && !e.mirror) {
        const https = e.base.replace(/^http:/, 'https:');
        const known = this.schemes.get(host);
        // only a connection-level failure of the https try moves on to http (fallback: false)
        if (known !== 'http') out.push({ client: new RegistryClient(https, { credentials, insecure: true }), fallback: false });
        if (known !== 'https') out.push({ client: new RegistryClient(e.base, { credentials, insecure: true }), fallback: false });
        continue;
      }
      out.push({ client: new RegistryClient(e.base, { credentials, insecure: e.insecure, ca }), fallback: e.mirror });
    }
    return out;
  }

  private async withEndpoint<T>(registry: string, fn: (c: RegistryClient) => Promise<T>, creds?: Credentials): Promise<T> {
    const eps = await this.endpoints(registry, creds);
    let last: unknown;
    for (const [i, ep] of eps.entries()) {
      try {
        const out = await fn(ep.client);
        if (ep.client.opts.insecure) this.schemes.set(new URL(ep.client.base).host, ep.client.base.startsWith('https:') ? 'https' : 'http');
        return out;
      } catch (e) {
        last = e;
        const code = (e as { code?: string }).code;
        const network = typeof code === 'string' && /^E[A-Z_]+$/.test(code);
        // a mirror (or the https try of an insecure registry) that fails hands over to the next endpoint
        if (i === eps.length - 1 || !(network || ep.fallback)) throw e;
      }
    }
    throw last instanceof Error ? last : invalid(`registry ${registry}: no endpoint answered`);
  }

  /**
   * Uses `creds` for `registry` (HOST:PORT) when no saved login names it: the node's identity at
   * its own server's registry. Kept in memory, in the node's credential store: a request's view
   * (the agent's registry session) has its own store and never sees it.
   */
  useLogin(registry: string, creds: Credentials): void {
    this.credentials.useLogin(registry, creds);
  }

  /** Pulls `ref`; `credentials` (e.g. from an Image's pull secret) win over the saved logins. */
  async pull(ref: string, opts: PullOptions & { credentials?: Credentials } = {}): Promise<PullResult & { ref: RemoteReference }> {
    const r = parseRemoteReference(ref);
    const reference = r.digest ?? r.tag ?? 'latest';
    const { credentials, ...pullOpts } = opts;
    // in a lease: the blobs and layers are kept from the garbage collector until the image names them
    const result = await this.o.images.withLease(`pull ${ref}`, () =>
      this.withEndpoint(
        r.registry,
        (c) => pullImage(c, this.o.images, r.repository, reference, r.digest && !r.tag ? undefined : r.localName, { ...pullOpts, sources: this.sources, registry: r.registry }),
        credentials,
      ),
    );
    return { ...result, ref: r };
  }

  /** Pushes a local image; `localRef` defaults to the target name (as `docker push NAME[:TAG]`). */
  async push(target: string, opts: PushOptions & { localRef?: string } = {}): Promise<PushResult & { ref: RemoteReference }> {
    const r = parseRemoteReference(target);
    if (r.digest) throw invalid(`ref: "${target}": push needs a tag, not a digest`);
    const localRef = opts.localRef ?? r.localName ?? target;
    const result = await this.withEndpoint(r.registry, (c) => pushImage(c, this.o.images, localRef, r.repository, r.tag ?? 'latest', { ...opts, sources: this.sources, registry: r.registry }));
    return { ...result, ref: r };
  }

  /** Checks the credentials against the registry (/v2/ and its token service), then saves them. */
  async login(registry: string, creds: Credentials): Promise<void> {
    const host = registry === 'index.docker.io' ? DOCKER_HUB : registry;
    await this.withEndpoint(host, (c) => c.ping(), creds);
    await this.credentials.set(host, creds);
  }

  async logout(registry: string): Promise<boolean> {
    return this.credentials.remove(registry === 'index.docker.io' ? DOCKER_HUB : registry);
  }

  /** Repositories in a registry's catalog (all pages) whose name contains `term`. */
  async search(registry: string, term = '', limit = 1000): Promise<string[]> {
    return this.withEndpoint(registry, async (c) => {
      const out: string[] = [];
      let path: string | undefined = `/v2/_catalog?n=${Math.min(limit, 1000)}`;
      while (path && out.length < limit) {
        const res = await c.request(path);
        if (res.status !== 200) throw await failure(res, `${registry} catalog`);
        const link = res.headers.link;
        const j = JSON.parse((await readBody(res)).toString('utf8')) as { repositories?: string[] };
        out.push(...(j.repositories ?? []).filter((n) => n.includes(term)));
        const next = typeof link === 'string' ? /<([^>]+)>;\s*rel="?next"?/.exec(link)?.[1] : undefined;
        path = next;
      }
      return out.slice(0, limit);
    });
  }

  /** Tags of a repository (all pages). */
  async tags(ref: string): Promise<string[]> {
    const r = parseRemoteReference(ref);
    return this.withEndpoint(r.registry, async (c) => {
      const res = await c.request(`/v2/${r.repository}/tags/list`);
      if (res.status !== 200) throw await failure(res, `${r.repository} tags`);
      return (JSON.parse((await readBody(res)).toString('utf8')) as { tags?: string[] | null }).tags ?? [];
    });
  }
}

export { RegistryClient, RegistryClientError } from './client.js';
export { loadDaemonConfig, type DistributionConfig } from './config.js';
export { CredentialStore, credentialsFromDockerConfig, type Credentials } from './credentials.js';
export type { LayerProgress, ProgressFn, PullOptions, PullResult } from './pull.js';
export type { PushOptions, PushResult } from './push.js';
export { parseRemoteReference, type RemoteReference } from './reference.js';
