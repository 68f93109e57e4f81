/**
 * Health of the objects a GitSync applies, read from their status alone: a Container is healthy
 * Running (or Exited 0 under restartPolicy Never), an Image or a Volume Ready, a Namespace Active,
 * a GitSync Ready; anything else healthy once it exists. A status older than the object's
 * generation (observedGeneration behind) is Progressing: the agent has not acted on the change yet.
 */
import type { KObject } from '../../client/api-client.js';

export type Health = 'Healthy' | 'Progressing' | 'Degraded';

export interface HealthResult {
  health: Health;
  message?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function current(obj: KObject): boolean {
  const observed = obj.status?.observedGeneration;
  return typeof observed !== 'number' || obj.metadata.generation === undefined || observed >= obj.metadata.generation;
}

export function healthOf(obj: KObject | undefined): HealthResult {
  if (!obj) return { health: 'Progressing', message: 'not created yet' };
  if (obj.metadata.deletionTimestamp) return { health: 'Progressing', message: 'being deleted' };
  const status = obj.status ?? {};
  const phase = str(status.phase);
  const reason = str(status.reason);
  const message = str(status.message);
  const detail = [reason, message].filter(Boolean).join(': ');
  switch (obj.kind) {
    case 'Container': {
      if (!current(obj)) return { health: 'Progressing', message: 'the node has not acted on the latest change yet' };
      const never = obj.spec?.restartPolicy === 'Never';
      if (phase === 'Running') return { health: 'Healthy' };
      if (phase === 'Exited') {
        const code = status.exitCode;
        if (never && code === 0) return { health: 'Healthy' };
        if (obj.spec?.state === 'Stopped') return { health: 'Healthy' };
        return { health: 'Degraded', message: `exited with code ${String(code ?? '?')}${detail ? ` (${detail})` : ''}` };
      }
      if (phase === 'Paused' && obj.spec?.state === 'Paused') return { health: 'Healthy' };
      if (phase === 'Failed') return { health: 'Degraded', message: detail || 'failed' };
      if (reason === 'CrashLoopBackOff' || reason === 'ImagePullBackOff') return { health: 'Degraded', message: detail };
      return { health: 'Progressing', message: phase ? `${phase}${detail ? `: ${detail}` : ''}` : 'no status yet' };
    }
    case 'Image':
    case 'Volume':
      if (!current(obj)) return { health: 'Progressing', message: 'the node has not acted on the latest change yet' };
      if (phase === 'Ready') return { health: 'Healthy' };
      if (phase === 'Failed') return { health: 'Degraded', message: detail || 'failed' };
      return { health: 'Progressing', message: phase ?? 'no status yet' };
    case 'Namespace':
      return phase === 'Terminating' ? { health: 'Degraded', message: 'namespace is terminating' } : { health: 'Healthy' };
    case 'GitSync': {
      const ready = ((status.conditions ?? []) as { type: string; status: string; message?: string }[]).find((c) => c.type === 'Ready');
      if (ready?.status === 'True') return { health: 'Healthy' };
      if (ready?.status === 'False') return { health: 'Degraded', message: ready.message ?? 'not ready' };
      return { health: 'Progressing', message: 'not synced yet' };
    }
    default:
      return { health: 'Healthy' };
  }
}

/** The worst of `items` with the first object holding it there, for conditions. */
export function aggregate<T>(items: T[], health: (t: T) => HealthResult, name: (t: T) => string): { health: Health; holder?: string; message?: string; count: number } {
  let worst: { health: Health; holder?: string; message?: string; count: number } = { health: 'Healthy', count: 0 };
  const rank: Record<Health, number> = { Healthy: 0, Progressing: 1, Degraded: 2 };
  for (const item of items) {
    const h = health(item);
    if (h.health === 'Healthy') continue;
    if (rank[h.health] > rank[worst.health]) worst = { health: h.health, holder: name(item), ...(h.message ? { message: h.message } : {}), count: 1 };
    else if (h.health === worst.health) worst.count++;
  }
  return worst;
}
