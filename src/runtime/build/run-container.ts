import type { Runtime } from '../index.js';
import type { ImageConfig } from '../images/schema.js';
import { randomHexId } from '../util/digest.js';
import type { BuildEvent } from './builder.js';
import { buildError } from './errors.js';
import { commitUpper, mountArtifacts, type BuiltLayer } from './layer.js';
import type { StageState } from './state.js';

export interface RunInput {
  state: StageState;
  argv: string[];
  /** ARG values (and predefined proxy args) as environment variables; the image ENV comes from the config. */
  env: string[];
  network: 'none' | 'host';
  /** Host files bind-mounted read-only (e.g. a heredoc script). */
  mounts?: Array<{ source: string; target: string }>;
  tmpDir: string;
  signal?: AbortSignal;
  emit: (e: BuildEvent) => void;
  /** The error for a non-zero exit. */
  failure: (exitCode: number, oomKilled: boolean) => Error;
}

/**
 * RUN: a container of the runtime core over the stage's layers (an intermediate image, removed
 * afterwards), its output streamed; its upper dir becomes the new layer. The container, its
 * anonymous volumes and the intermediate image are removed whatever happens.
 */
export async function runInContainer(rt: Runtime, i: RunInput): Promise<BuiltLayer> {
  const st = i.state;
  const marker = randomHexId();
  const cfg: ImageConfig & Record<string, unknown> = {
    created: new Date().toISOString(),
    architecture: st.architecture,
    os: st.os,
    config: { ...st.config, Cmd: null, Entrypoint: null },
    rootfs: { type: 'layers', diff_ids: st.layers.map((l) => l.diffID) },
    history: [],
    // makes the intermediate image unique, so removing it never touches a real image with the same config
    'berth.build.intermediate': marker,
  };
  const imageId = await rt.images.addImage(Buffer.from(JSON.stringify(cfg)), st.layers);
  let containerId: string | undefined;
  try {
    const rec = await rt.containers.create({
      image: imageId,
      name: `berth-build-${marker.slice(0, 12)}`,
      command: i.argv,
      args: [],
      env: i.env,
      ...(st.config.User ? { user: st.config.User } : {}),
      ...(st.config.WorkingDir ? { workingDir: st.config.WorkingDir } : {}),
      network: i.network,
      mounts: (i.mounts ?? []).map((m) => ({ type: 'bind' as const, source: m.source, target: m.target, readOnly: true })),
      labels: { 'berth.build': 'true' },
    });
    containerId = rec.id;
    i.emit({ type: 'running', containerId: rec.id });
    await rt.tasks.start(rec.id);
    for await (const l of rt.tasks.logs(rec.id, { follow: true }, i.signal)) i.emit({ type: 'output', stream: l.stream, line: l.line });
    if (i.signal?.aborted) throw buildError('build cancelled', undefined, 'Failed');
    const state = await rt.tasks.state(rec.id);
    const code = state.exitCode ?? -1;
    if (code !== 0) throw i.failure(code, state.oomKilled);
    const snap = await rt.snapshots.get(rec.id);
    if (!snap || snap.mode !== 'overlay') throw buildError('building needs the overlay snapshotter', undefined, 'Failed');
    return await commitUpper(rt.images, i.tmpDir, snap.upper, await mountArtifacts(snap.upper, snap.lowerdirs));
  } finally {
    if (containerId) {
      await rt.containers.remove(containerId, { force: true, volumes: true });
      i.emit({ type: 'removed', containerId });
    }
    await rt.images.remove(imageId, { force: true }).catch(() => undefined);
  }
}
