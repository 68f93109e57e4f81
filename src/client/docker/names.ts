/**
 * How Docker's names, IDs and labels live on Berth objects. Docker names allow capitals and "_"
 * (docker-compose's project_service_1); object names are DNS subdomains. A Docker name that is not
 * one becomes an object name with a short hash (so two Docker names never meet) and is kept in the
 * annotation berth.dev/docker-name; `docker rename` only changes that annotation (object names are
 * immutable). A Container's Docker ID is the sha256 of its uid: known from the create on, stable
 * when the node recreates the runtime container. Docker labels whose keys or values Kubernetes
 * labels cannot hold are kept whole in the annotation berth.dev/docker-labels.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { KObject } from '../api-client.js';

export const LABEL_CREATED_BY = 'berth.dev/created-by';
export const ANNOTATION_DOCKER_NAME = 'berth.dev/docker-name';
export const ANNOTATION_DOCKER_LABELS = 'berth.dev/docker-labels';
/** docker run --rm: whoever sees the container exit deletes it (the CLI, or the Docker API front). */
export const ANNOTATION_AUTO_REMOVE = 'berth.dev/auto-remove';
/** A Volume made for a container's anonymous volume (docker run -v /data): rm -v deletes it with the container. */
export const ANNOTATION_ANONYMOUS_FOR = 'berth.dev/anonymous-volume-of';

export type CreatedBy = 'cli' | 'docker-api';

/** Docker's rule for container and volume names. */
export const DOCKER_NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A bad request in Docker's words: the Docker API answers it with `status`, the CLI exits 125. */
export class DockerError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export const notFound = (message: string): DockerError => new DockerError(message, 404);
export const conflict = (message: string): DockerError => new DockerError(message, 409);

const shortHash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 6);

/** The object name for a Docker name: itself when it is a DNS subdomain, else a lowercase form with a hash. */
export function objectNameFor(dockerName: string): string {
  const name = dockerName.replace(/^\//, '');
  if (name.length <= 63 && DNS_SUBDOMAIN.test(name)) return name;
  const base = name
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, 50);
  return `${base || 'x'}-${shortHash(name)}`;
}

/** Checks a Docker container or volume name; `what` is "container" or "volume" for the message. */
export function checkDockerName(name: string, what: 'container' | 'volume' | 'network'): string {
  if (!DOCKER_NAME_RE.test(name)) {
    const kind = what === 'container' ? 'container name' : `${what} name`;
    throw new DockerError(`Invalid ${kind} (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.replace(/^\//, '');
}

/** A fresh name as Docker would give one (adjective_surname), here adjective-name-hex so it is an object name too. */
export function randomName(): string {
  const adjectives = ['brave', 'calm', 'eager', 'fervent', 'gentle', 'happy', 'keen', 'lucid', 'nifty', 'quiet', 'sharp', 'stoic', 'tender', 'vivid', 'wizardly', 'zen'];
  const names = ['babbage', 'curie', 'darwin', 'euler', 'feynman', 'goldberg', 'hopper', 'kepler', 'lovelace', 'noether', 'pascal', 'ritchie', 'shannon', 'thompson', 'turing', 'wozniak'];
  const r = randomBytes(4);
  return `${adjectives[r[0]! % adjectives.length]}-${names[r[1]! % names.length]}-${r.readUInt16BE(2).toString(16).padStart(4, '0')}`;
}

/** The Docker name of an object: its annotation, else its object name. */
export function dockerNameOf(obj: KObject): string {
  return obj.metadata.annotations?.[ANNOTATION_DOCKER_NAME] ?? obj.metadata.name;
}

/** A Container's Docker ID: 64 hex characters from its uid. */
export function dockerIdOf(obj: KObject): string {
  return createHash('sha256').update(obj.metadata.uid ?? obj.metadata.name).digest('hex');
}

/** Docker labels of an object: its Kubernetes labels (minus Berth's own) with the annotation's on top. */
export function dockerLabelsOf(obj: KObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) if (!k.startsWith('berth.dev/')) out[k] = v;
  const raw = obj.metadata.annotations?.[ANNOTATION_DOCKER_LABELS];
  if (raw) {
    try {
      Object.assign(out, JSON.parse(raw) as Record<string, string>);
    } catch {
      // a hand-edited annotation that is not JSON: the Kubernetes labels stand
    }
  }
  return out;
}

const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

/** Whether a Docker label fits a Kubernetes label (key: [prefix/]name, value: 63 characters of [-A-Za-z0-9_.]). */
export function fitsKubernetesLabel(key: string, value: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !LABEL_PREFIX.test(prefix))) return false;
  if (prefix?.startsWith('berth.dev')) return false;
  return LABEL_NAME.test(name) && LABEL_VALUE.test(value);
}

/** Metadata for objects a Docker verb makes: the created-by label, the Docker name and labels. */
export function dockerMetadata(o: { name: string; dockerName?: string; labels?: Record<string, string>; createdBy: CreatedBy; extraAnnotations?: Record<string, string> }): KObject['metadata'] {
  const labels: Record<string, string> = { [LABEL_CREATED_BY]: o.createdBy };
  const annotations: Record<string, string> = { ...(o.extraAnnotations ?? {}) };
  const docker = o.labels ?? {};
  const rest: Record<string, string> = {};
  for (const [k, v] of Object.entries(docker)) {
    if (fitsKubernetesLabel(k, v)) labels[k] = v;
    else rest[k] = v;
  }
  if (Object.keys(rest).length) annotations[ANNOTATION_DOCKER_LABELS] = JSON.stringify(rest);
  if (o.dockerName !== undefined && o.dockerName !== o.name) annotations[ANNOTATION_DOCKER_NAME] = o.dockerName;
  return { name: o.name, labels, ...(Object.keys(annotations).length ? { annotations } : {}) };
}
