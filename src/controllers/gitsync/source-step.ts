/**
 * The source step of a GitSync's reconcile: ls-remote of its ref, a shallow fetch and a render only
 * for a new commit (or a new spec), with the credentials of its secretRef. Failures are
 * SourceErrors whose reason becomes the Ready condition's.
 */
import { credentialsFrom } from '../../client/gitops/credentials.js';
import type { GitCredentials } from '../../client/gitops/git.js';
import { renderRevision, type RenderResult } from '../../client/gitops/render.js';
import type { GitSource } from '../../client/gitops/source.js';
import { keyOf } from '../../client/informer.js';
import type { KObject, ResourceType } from '../../client/api-client.js';
import type { GitSyncObject } from './core.js';
import type { SyncState } from './state.js';

export class SourceError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SourceStepOptions {
  source: GitSource;
  /** The kinds a render may hold. */
  types: ResourceType[];
  /** A Secret from the informer cache. */
  secret(namespace: string | undefined, name: string): KObject | undefined;
  kustomize?: string[];
  log(msg: string): void;
}

export class SourceStep {
  constructor(private readonly o: SourceStepOptions) {}

  /** ls-remote; for a new commit (or a new spec) a fetch and a render. Whether the fetched revision changed. */
  async fetch(gs: GitSyncObject, st: SyncState, specChanged: boolean): Promise<boolean> {
    const spec = gs.spec!;
    const creds = await this.credentials(gs);
    let resolved;
    try {
      resolved = await this.o.source.resolve(spec.url, spec.ref, creds);
    } catch (err) {
      throw new SourceError(/Authentication failed|could not read Username|403|401/i.test((err as Error).message) ? 'AuthenticationFailed' : 'FetchFailed', `${spec.url}: ${(err as Error).message}`);
    }
    if (st.fetched && st.fetched.revision === resolved.revision && st.fetched.ref === resolved.ref && !specChanged) return false;
    try {
      // a revision rendered before is in the cache; a new one is not (no need to ask git)
      if (!st.renders.has(resolved.revision)) await this.o.source.fetch(spec.url, resolved, creds, { knownMissing: !specChanged });
    } catch (err) {
      throw new SourceError('FetchFailed', `${spec.url} ${resolved.ref}: ${(err as Error).message}`);
    }
    if (specChanged) {
      st.renders.clear();
      st.files.clear();
    }
    const render = st.renders.get(resolved.revision) ?? (await this.render(gs, st, resolved.revision));
    st.renders.set(resolved.revision, render);
    const changed = st.fetched?.revision !== resolved.revision;
    const fetched: NonNullable<SyncState['fetched']> = { revision: resolved.revision, ref: resolved.ref, render };
    st.fetched = fetched;
    // for berth_gitsync_commit_to_ready_seconds only: off the path to applying the commit
    void this.o.source.commitTime(spec.url, resolved.revision).then(
      (t) => {
        fetched.commitTime = t;
        if (st.awaitingHealth?.revision === resolved.revision) st.awaitingHealth.commitTime ??= t;
      },
      () => undefined,
    );
    if (changed) {
      this.o.log(`${keyOf(gs)}: fetched ${resolved.ref} at ${resolved.revision.slice(0, 12)} (${render.objects.length} objects${render.errors.length ? `, ${render.errors.length} errors` : ''})`);
      if (st.rejected && st.rejected !== resolved.revision) st.rejected = undefined;
    }
    return changed;
  }

  async render(gs: GitSyncObject, st: SyncState, revision: string): Promise<RenderResult> {
    const spec = gs.spec!;
    const ns = gs.metadata.namespace ?? 'default';
    return renderRevision(this.o.source, spec.url, revision, spec.path, {
      owner: { namespace: ns, name: gs.metadata.name },
      defaultNamespace: spec.targetNamespace ?? ns,
      types: this.o.types,
      ...(this.o.kustomize ? { kustomize: this.o.kustomize } : {}),
    }, st.files);
  }

  private secret(gs: GitSyncObject, name: string): KObject | undefined {
    return this.o.secret(gs.metadata.namespace, name);
  }

  async credentials(gs: GitSyncObject): Promise<GitCredentials | undefined> {
    const ref = gs.spec?.secretRef?.name;
    if (!ref) return undefined;
    const secret = this.secret(gs, ref);
    if (!secret) throw new SourceError('SecretNotFound', `Secret ${gs.metadata.namespace}/${ref} (spec.secretRef) does not exist`);
    const c = credentialsFrom(secret, gs.spec!.url);
    if ('error' in c) throw new SourceError('InvalidCredentials', c.error);
    return c;
  }
}
