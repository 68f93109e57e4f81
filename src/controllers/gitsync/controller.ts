/**
 * The GitSync controller: an API client on the controller runner, in `berth server` and
 * `berth controller` alike. Each reconcile of a GitSync (its own changes, its interval, a webhook
 * or CLI request annotation, or an informer event of an object it manages) does, in order:
 * fetch when due (ls-remote; a shallow fetch and a render only for a new commit), rebuild its
 * memory after a restart, drive the sync in progress or start one (operation.ts), check drift
 * (drift.ts), follow health (roll back with rollbackOnFailure), and write the status when it
 * changed. A resync with nothing new writes nothing: one ls-remote and comparisons in memory.
 */
import { hostname } from 'node:os';
import {
  GITSYNC_FINALIZER,
  ORPHAN_ON_DELETE_ANNOTATION,
  REQUESTED_AT_ANNOTATION,
  ROLLBACK_TO_ANNOTATION,
  SYNC_REQUESTED_AT_ANNOTATION,
  WEBHOOK_PREFIX,
  webhookId,
  type HistoryEntry,
  type SyncError,
} from '../../api/gitsync.js';
import { apiVersionOf, type KObject, type ResourceType } from '../../client/api-client.js';
import { Controller } from '../../client/controller.js';
import { EventRecorder } from '../../client/events.js';
import { GitSource } from '../../client/gitops/source.js';
import { describeKey, OWNER_ANNOTATION, PRUNE_ANNOTATION, type DesiredObject, type RenderResult } from '../../client/gitops/render.js';
import { keyOf, splitKey, type Informer } from '../../client/informer.js';
import { allResourceTypes, EventType, GitSyncType, SecretType } from '../../client/kinds.js';
import { gitSyncCommitToReady, gitSyncManagedObjects, gitSyncSyncDuration, gitSyncSyncs } from '../../metrics/gitsync.js';
import type { ControllerContext, RunnableController } from '../context.js';
import { Applier, FIELD_MANAGER } from './applier.js';
import { setFinalizer } from '../../client/finalizers.js';
import { currentHealth, olderThan, type GitSyncCore, type GitSyncObject } from './core.js';
import { checkDrift } from './drift.js';
import { aggregate } from './health.js';
import { advance, backoffMs, currentInventory, intervalOf, rollback, startOperation, timeoutOf, type OpOutcome } from './operation.js';
import { buildStatus, problemOf, sameStatus, statusPatch, withoutTimes } from './status.js';
import { newState, type SyncState } from './state.js';
import { baseline } from './baseline.js';
import { outOfSync } from './out-of-sync.js';
import { describeEntry, leftGit } from './plan.js';
import { ORPHAN_FINALIZER } from '../garbage-collector.js';
import { SourceError, SourceStep } from './source-step.js';

export interface GitSyncControllerOptions {
  /** Where the cached clones live (berth server: <data-dir>/gitsync; berth controller: --cache-dir). */
  cacheDir: string;
  /** Workers: GitSyncs reconciled at once (default 4). */
  concurrency?: number;
  /** Writes in flight at once per GitSync (default 16). */
  applyConcurrency?: number;
  /** kustomize command (default: kustomize build or kubectl kustomize from PATH). */
  kustomize?: string[];
}

/** Bounds of the window over which events of one GitSync's objects are coalesced. */
const COALESCE_MIN_MS = 20;
const COALESCE_MAX_MS = 500;

/** Least time between two status writes that change only condition messages. */
const STATUS_MESSAGE_INTERVAL_MS = 1000;

type Result = 'applied' | 'unchanged' | 'failed' | 'blocked' | 'rolled_back';

/** Kinds a GitSync may apply: all the server serves but Events and Nodes. */
const managedTypes = (): ResourceType[] => allResourceTypes.filter((t) => !(t.group === '' && t.kind === 'Event') && !(t.group === 'berth.dev' && t.kind === 'Node'));

export class GitSyncController implements RunnableController, GitSyncCore {
  readonly name = 'gitsync';
  readonly applier: Applier;
  readonly events: EventRecorder;
  readonly source: GitSource;
  private readonly controller: Controller;
  private readonly gitsyncs: Informer<GitSyncObject>;
  private readonly secrets: Informer;
  private readonly managed = new Map<string, Informer>();
  private readonly types = managedTypes();
  private readonly states = new Map<string, SyncState>();
  private readonly sourceStep: SourceStep;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly o: GitSyncControllerOptions,
  ) {
    this.source = new GitSource(o.cacheDir);
    this.applier = new Applier(ctx.client, o.applyConcurrency ?? 16);
    this.events = new EventRecorder({ events: ctx.client.resource(EventType) }, 'gitsync-controller', hostname());
    this.gitsyncs = ctx.informers.for(ctx.client.resource<GitSyncObject>(GitSyncType));
    this.secrets = ctx.informers.for(ctx.client.resource(SecretType));
    this.sourceStep = new SourceStep({ source: this.source, types: this.types, secret: (ns, name) => this.secrets.get(ns, name), ...(o.kustomize ? { kustomize: o.kustomize } : {}), log: (m) => this.log(m) });
    for (const t of this.types) this.managed.set(`${t.group}/${t.kind}`, ctx.informers.for(ctx.client.resource(t)));
    this.controller = new Controller({ name: this.name, reconcile: (k) => this.reconcile(k), concurrency: o.concurrency ?? 4, resyncMs: 5 * 60_000, log: ctx.log });
    const ann = (o: KObject | undefined) => o?.metadata.annotations ?? {};
    this.controller.watch(this.gitsyncs, {
      // its own status writes are no reason to come back
      predicate: (event, obj, old) =>
        event !== 'update' ||
        obj.metadata.generation !== old?.metadata.generation ||
        obj.metadata.deletionTimestamp !== old?.metadata.deletionTimestamp ||
        [REQUESTED_AT_ANNOTATION, SYNC_REQUESTED_AT_ANNOTATION, ROLLBACK_TO_ANNOTATION].some((a) => ann(obj)[a] !== ann(old)[a]),
    });
    // events of managed objects (a rollout brings hundreds a second) are coalesced per GitSync over a
    // few times its last reconcile: its cost stays a bounded share of the CPU, and drift is still seen
    // within tens of milliseconds
    for (const inf of this.managed.values()) {
      inf.addHandler({
        add: (obj) => this.soon(obj),
        update: (old, obj) => {
          this.soon(obj);
          if (old.metadata.annotations?.[OWNER_ANNOTATION] !== obj.metadata.annotations?.[OWNER_ANNOTATION]) this.soon(old);
        },
        delete: (obj) => this.soon(obj),
      });
    }
  }

  private readonly coalescing = new Map<string, NodeJS.Timeout>();

  private soon(obj: KObject): void {
    const key = obj.metadata.annotations?.[OWNER_ANNOTATION];
    if (!key || this.coalescing.has(key)) return;
    const window = Math.min(COALESCE_MAX_MS, Math.max(COALESCE_MIN_MS, 3 * (this.states.get(key)?.lastReconcileMs ?? 0)));
    const t = setTimeout(() => {
      this.coalescing.delete(key);
      this.controller.enqueue(key);
    }, window);
    t.unref();
    this.coalescing.set(key, t);
  }

  async start(): Promise<void> {
    await this.controller.start();
  }

  async stop(): Promise<void> {
    for (const t of this.coalescing.values()) clearTimeout(t);
    this.coalescing.clear();
    await this.controller.stop();
    await this.events.flush();
  }

  // ---- GitSyncCore --------------------------------------------------------------------------

  now(): number {
    return Date.now();
  }

  log(msg: string): void {
    this.ctx.log(`gitsync: ${msg}`);
  }

  live(d: Pick<DesiredObject, 'type' | 'object'>): KObject | undefined {
    return this.managed.get(`${d.type.group}/${d.type.kind}`)?.get(d.type.namespaced ? d.object.metadata.namespace : undefined, d.object.metadata.name);
  }

  cacheBehind(d: Pick<DesiredObject, 'type'>, rv: string): boolean {
    const inf = this.managed.get(`${d.type.group}/${d.type.kind}`);
    return !!inf && olderThan(inf.lastResourceVersion, rv);
  }

  liveByEntry(apiVersion: string, kind: string, namespace: string | undefined, name: string): KObject | undefined {
    const t = this.types.find((x) => apiVersionOf(x) === apiVersion && x.kind === kind);
    return t ? this.managed.get(`${t.group}/${t.kind}`)?.get(t.namespaced ? namespace : undefined, name) : undefined;
  }

  gitSync(id: string): GitSyncObject | undefined {
    return this.gitsyncs.getByKey(id);
  }

  enqueue(id: string): void {
    this.controller.enqueue(id);
  }

  claim(owner: string, object: string, claimant: string): void {
    const st = this.states.get(owner);
    if (st && st.claimedBy.get(object) !== claimant) {
      st.claimedBy.set(object, claimant);
      const gs = this.gitSync(owner);
      if (gs) this.events.record(gs, 'Warning', 'Conflict', `GitSync ${claimant} also wants ${object}, which this GitSync applies: not applied there`);
    }
    this.enqueue(owner);
  }

  history(_gs: GitSyncObject, st: SyncState, e: Omit<HistoryEntry, 'time'>): void {
    st.history = [{ ...e, time: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z') }, ...st.history].slice(0, 10);
  }

  async keep(gs: GitSyncObject, name: string, revision: string): Promise<void> {
    await this.source.keep(gs.spec!.url, `${gs.metadata.uid}/${name}`, revision);
  }

  async renderAt(gs: GitSyncObject, st: SyncState, revision: string): Promise<RenderResult> {
    const known = st.renders.get(revision);
    if (known) return known;
    const url = gs.spec!.url;
    if (!(await this.source.hasCommit(url, revision))) await this.source.fetch(url, { revision, ref: revision }, await this.sourceStep.credentials(gs));
    const render = await this.sourceStep.render(gs, st, revision);
    st.renders.set(revision, render);
    return render;
  }

  // ---- reconcile ----------------------------------------------------------------------------

  private async reconcile(key: string): Promise<{ requeueAfterMs?: number } | void> {
    const { namespace, name } = splitKey(key);
    const gs = this.gitsyncs.get(namespace, name);
    if (!gs || gs.metadata.deletionTimestamp) {
      if (gs) await this.finalize(gs);
      this.forget(key);
      return;
    }
    // Berth's API server adds the finalizer on create; a Kubernetes API server (the chart) does not.
    if (!gs.metadata.finalizers?.includes(GITSYNC_FINALIZER)) {
      await setFinalizer(this.ctx.client.resource(GitSyncType), gs, GITSYNC_FINALIZER, true, FIELD_MANAGER);
      return; // the write comes back through the watch
    }
    let st = this.states.get(key);
    if (!st || st.uid !== gs.metadata.uid) {
      st = newState(gs.metadata.uid ?? '');
      st.handled = { ...(gs.status?.lastHandledRequestedAt ? { requestedAt: gs.status.lastHandledRequestedAt } : {}), ...(gs.status?.lastHandledSyncRequestedAt ? { syncRequestedAt: gs.status.lastHandledSyncRequestedAt } : {}), ...(gs.status?.lastHandledRollbackTo ? { rollbackTo: gs.status.lastHandledRollbackTo } : {}) };
      st.history = [...(gs.status?.history ?? [])];
      if (gs.status?.lastHealthyRevision) st.lastHealthyRevision = gs.status.lastHealthyRevision;
      this.states.set(key, st);
    }
    const started = performance.now();
    let result: Result = 'unchanged';
    try {
      const r = await this.step(gs, st);
      result = r.result;
      return r.requeueAfterMs !== undefined ? { requeueAfterMs: Math.max(50, r.requeueAfterMs) } : undefined;
    } catch (err) {
      result = 'failed';
      throw err;
    } finally {
      const ms = performance.now() - started;
      st.lastReconcileMs = ms;
      gitSyncSyncs.inc({ result });
      gitSyncSyncDuration.observe({ result }, ms / 1000);
    }
  }

  /**
   * A GitSync being deleted: with spec.prune, everything its inventory names (matched by uid,
   * Containers first, `berth.dev/prune: disabled` kept) is deleted, as Flux deletes a Kustomization's
   * objects and Argo CD an Application's with its resources finalizer; without prune, or deleted with
   * `--cascade=orphan`, they stay. Then its finalizer goes. A failed delete is retried with backoff.
   */
  private async finalize(gs: GitSyncObject): Promise<void> {
    const finalizers = gs.metadata.finalizers ?? [];
    if (!finalizers.includes(GITSYNC_FINALIZER)) return;
    const keep = gs.spec?.prune !== true || finalizers.includes(ORPHAN_FINALIZER) || gs.metadata.annotations?.[ORPHAN_ON_DELETE_ANNOTATION] === 'true';
    const inventory = this.states.get(keyOf(gs))?.inventory ?? gs.status?.inventory ?? [];
    const deleted: string[] = [];
    if (!keep) {
      for (const e of leftGit(inventory, [])) {
        const live = this.liveByEntry(e.apiVersion, e.kind, e.namespace, e.name);
        if (!live || (e.uid && live.metadata.uid !== e.uid) || live.metadata.annotations?.[PRUNE_ANNOTATION] === 'disabled') continue;
        if (await this.applier.delete(e)) deleted.push(describeEntry(e));
      }
    }
    this.log(`${keyOf(gs)}: deleted; ${keep ? `${inventory.length} object(s) left in place` : `${deleted.length} object(s) deleted`}`);
    await setFinalizer(this.ctx.client.resource(GitSyncType), gs, GITSYNC_FINALIZER, false, FIELD_MANAGER);
  }

  private forget(key: string): void {
    this.states.delete(key);
    gitSyncManagedObjects.remove({ namespace: splitKey(key).namespace, gitsync: splitKey(key).name });
    for (const [owner, st] of this.states) {
      for (const [obj, claimant] of st.claimedBy) if (claimant === key) st.claimedBy.delete(obj);
      if (owner !== key) continue;
    }
  }

  private async step(gs: GitSyncObject, st: SyncState): Promise<{ result: Result; requeueAfterMs?: number }> {
    const spec = gs.spec!;
    const now = this.now();
    if (spec.suspend) {
      st.op = undefined;
      const later = await this.writeStatus(gs, st, { suspended: true });
      if (later !== undefined) return { result: 'unchanged', requeueAfterMs: later };
      return { result: 'unchanged' };
    }
    const ann = gs.metadata.annotations ?? {};
    const requestedAt = ann[REQUESTED_AT_ANNOTATION];
    const syncRequestedAt = ann[SYNC_REQUESTED_AT_ANNOTATION];
    const rollbackTo = ann[ROLLBACK_TO_ANNOTATION];
    const newRequest = !!requestedAt && requestedAt !== st.handled.requestedAt;
    const newSync = !!syncRequestedAt && syncRequestedAt !== st.handled.syncRequestedAt;
    const newRollback = !!rollbackTo && rollbackTo !== st.handled.rollbackTo;
    const genChanged = st.generation !== undefined && st.generation !== gs.metadata.generation;
    const asked = newRequest || newSync || genChanged;
    let wrote = false;
    let outcome: OpOutcome | undefined;

    // 1. fetch when due
    let fetchedChanged = false;
    const sourceWaits = st.sourceError && now < st.sourceError.retryAt && !asked;
    if (!st.op && !sourceWaits && (asked || !st.fetched || now >= st.nextFetchAt)) {
      try {
        fetchedChanged = await this.sourceStep.fetch(gs, st, genChanged);
        if (st.sourceError) this.events.record(gs, 'Normal', 'FetchSucceeded', `fetched ${st.fetched!.ref} at ${st.fetched!.revision.slice(0, 12)}`);
        st.sourceError = undefined;
        st.nextFetchAt = now + intervalOf(gs);
      } catch (err) {
        const reason = err instanceof SourceError ? err.reason : 'FetchFailed';
        const message = (err as Error).message;
        const attempts = (st.sourceError?.attempts ?? 0) + 1;
        if (st.sourceError?.message !== message) this.events.record(gs, 'Warning', reason, message);
        st.sourceError = { reason, message, attempts, retryAt: now + backoffMs(attempts, Math.max(intervalOf(gs), 5_000)) };
      }
    }
    st.generation = gs.metadata.generation;
    if (newRequest) st.handled.requestedAt = requestedAt;

    // 2. after a restart: what was applied, from status and a dry run
    if (!st.baselineDone) await baseline(this, gs, st);

    // 3. the sync in progress, or a new one
    if (st.op) {
      outcome = await advance(this, gs, st);
    } else if (newRollback) {
      st.handled.rollbackTo = rollbackTo;
      const revision = rollbackTo!.split('@')[0]!;
      try {
        const render = await this.renderAt(gs, st, revision);
        outcome = await startOperation(this, gs, st, 'rollback', render, `rollback to ${revision.slice(0, 12)} asked by berth gitsync rollback`);
        if (st.fetched && st.fetched.revision !== revision) st.rejected = st.fetched.revision;
      } catch (err) {
        this.events.record(gs, 'Warning', 'RollbackFailed', `cannot roll back to ${revision}: ${(err as Error).message}`);
      }
    } else if (st.fetched && !st.sourceError) {
      const f = st.fetched;
      const differs = !st.applied || f.revision !== st.applied.revision || f.render.hash !== st.applied.hash;
      const wanted = newSync || (spec.autoSync !== false && f.revision !== st.rejected);
      const waiting = st.failure?.revision === f.revision && now < st.failure.retryAt && !newSync && !genChanged;
      if (differs && wanted && !waiting) outcome = await startOperation(this, gs, st, 'sync', f.render, newSync ? 'asked by berth gitsync sync' : 'new revision');
    }
    if (newSync) {
      st.handled.syncRequestedAt = syncRequestedAt;
      if (st.rejected === st.fetched?.revision) st.rejected = undefined;
    }
    if (outcome && outcome !== 'waiting') wrote = true;

    // 4. drift of what is applied
    const drift = await checkDrift(this, gs, st);
    if (drift.corrected) wrote = true;

    // 5. health of the applied revision; rollbackOnFailure
    const health = this.health(st);
    if (!st.op && st.awaitingHealth) {
      const a = st.awaitingHealth;
      const windowOver = this.now() - a.since > timeoutOf(gs);
      if (health.health === 'Healthy' && !a.healthySeen) {
        // healthy now; with rollbackOnFailure it stays on probation until timeout (a crash right after
        // a first Running is still this revision's fault)
        if (st.lastHealthyRevision !== a.revision) st.previousHealthy = st.lastHealthyRevision;
        st.lastHealthyRevision = a.revision;
        a.healthySeen = true;
        if (a.commitTime) gitSyncCommitToReady.observe(Math.max(0, this.now() - a.commitTime) / 1000);
        await this.keep(gs, 'healthy', a.revision).catch(() => undefined);
      }
      const target = st.lastHealthyRevision !== a.revision ? st.lastHealthyRevision : st.previousHealthy;
      const mayRollBack = spec.rollbackOnFailure && target && target !== a.revision && st.lastSyncResult?.result !== 'RolledBack';
      // degraded within the window, or never healthy by its end
      const failing = !windowOver ? health.health === 'Degraded' : !a.healthySeen;
      if (mayRollBack && failing) {
        const why = `${health.holder ?? 'an object'} ${!windowOver ? 'is degraded' : `is not healthy after ${spec.timeout ?? '5m'}`}${health.message ? `: ${health.message}` : ''}`;
        this.history(gs, st, { revision: a.revision, result: 'Failed', message: `HealthCheckFailed: ${why}`.slice(0, 1024) });
        st.lastHealthyRevision = target;
        outcome = await rollback(this, gs, st, a.revision, why);
        if (outcome !== 'waiting') wrote = true;
      } else if (a.healthySeen && (!spec.rollbackOnFailure || windowOver)) {
        st.awaitingHealth = undefined;
      }
    }

    // 6. status
    const statusLater = await this.writeStatus(gs, st, { fetchedChanged, driftErrors: drift.errors });
    gitSyncManagedObjects.set({ namespace: gs.metadata.namespace ?? '', gitsync: gs.metadata.name }, st.tracked.size + st.extras.length);
    this.trimRenders(st);

    const result: Result = outcome === 'rolled_back' ? 'rolled_back' : outcome === 'failed' ? 'failed' : outcome === 'blocked' ? 'blocked' : wrote ? 'applied' : 'unchanged';
    const waits = [st.nextFetchAt - this.now()];
    if (statusLater !== undefined) waits.push(statusLater);
    if (st.op) waits.push(timeoutOf(gs) - (this.now() - st.op.stepAppliedAt) + 100);
    if (st.failure) waits.push(st.failure.retryAt - this.now());
    if (st.sourceError) waits.push(st.sourceError.retryAt - this.now());
    const probation = st.awaitingHealth ? timeoutOf(gs) - (this.now() - st.awaitingHealth.since) : -1;
    if (spec.rollbackOnFailure && probation >= 0) waits.push(probation + 100);
    return { result, requeueAfterMs: Math.min(...waits) };
  }

  private webhookPath(gs: GitSyncObject): string | undefined {
    const ref = gs.spec?.webhook?.secretRef?.name;
    if (!ref) return undefined;
    const token = (this.secrets.get(gs.metadata.namespace, ref)?.data as Record<string, unknown> | undefined)?.token;
    if (typeof token !== 'string' || !gs.metadata.uid) return undefined;
    return `${WEBHOOK_PREFIX}${webhookId(Buffer.from(token, 'base64').toString('utf8'), gs.metadata.uid)}`;
  }

  private health(st: SyncState) {
    return aggregate([...st.tracked.values()], (t) => currentHealth(this, st, t.desired), (t) => describeKey(t.desired));
  }

  private trimRenders(st: SyncState): void {
    const keep = new Set([st.fetched?.revision, st.applied?.revision, st.lastHealthyRevision, st.op?.revision].filter(Boolean));
    for (const r of [...st.renders.keys()]) if (!keep.has(r)) st.renders.delete(r);
  }

  /**
   * Writes the status when it changed. A change of condition messages alone (which object holds a
   * rollout back, as it moves from one to the next) is written at most once a second: the answer
   * is how long until it may be (the caller comes back then).
   */
  private async writeStatus(gs: GitSyncObject, st: SyncState, o: { suspended?: boolean; fetchedChanged?: boolean; driftErrors?: SyncError[] }): Promise<number | undefined> {
    const problem = problemOf(st, this.now());
    const errors = [...(st.failure?.errors ?? []), ...(st.fetched && st.fetched.revision !== st.applied?.revision && !st.failure ? st.fetched.render.errors : []), ...(o.driftErrors ?? [])];
    for (const [object, claimant] of st.claimedBy) errors.push({ object, message: `also claimed by GitSync ${claimant}, which did not apply it` });
    const inventory = currentInventory(st);
    st.inventory = inventory;
    const status = buildStatus({
      ...(gs.metadata.generation !== undefined ? { generation: gs.metadata.generation } : {}),
      ...(gs.status ? { previous: gs.status } : {}),
      ...(st.fetched ? { fetched: { revision: st.fetched.revision, ref: st.fetched.ref } } : {}),
      fetchedChanged: o.fetchedChanged ?? false,
      ...(st.applied ? { applied: { revision: st.applied.revision, at: st.applied.at } } : {}),
      ...(st.lastHealthyRevision ? { lastHealthyRevision: st.lastHealthyRevision } : {}),
      inventory,
      errors,
      outOfSync: o.suspended ? [] : outOfSync(this, st),
      history: st.history,
      health: this.health(st),
      ...(problem ? { problem } : {}),
      suspended: o.suspended ?? false,
      ...(this.webhookPath(gs) ? { webhookPath: this.webhookPath(gs)! } : {}),
      handled: st.handled,
    });
    const json = JSON.stringify(withoutTimes(status));
    if (st.lastStatus === json) return undefined;
    if (st.lastStatus === undefined && sameStatus(gs.status, status)) {
      st.lastStatus = json;
      return undefined;
    }
    const gist = JSON.stringify({ ...withoutTimes(status), conditions: status.conditions?.map((c) => [c.type, c.status, c.reason]) });
    const since = this.now() - (st.lastStatusAt ?? 0);
    if (gist === st.lastStatusGist && since < STATUS_MESSAGE_INTERVAL_MS) return STATUS_MESSAGE_INTERVAL_MS - since;
    await this.ctx.client.resource(GitSyncType).patchStatus(gs.metadata.namespace, gs.metadata.name, statusPatch(gs.status, status), { fieldManager: 'berth-gitsync' });
    st.lastStatus = json;
    st.lastStatusGist = gist;
    st.lastStatusAt = this.now();
    return undefined;
  }
}

