/**
 * Query parameters of the Container exec subresource: Kubernetes' PodExecOptions (command
 * repeated, stdin, stdout, stderr, tty; stdout and stderr default to true) plus docker exec's
 * user, workingDir and env (repeated NAME=VALUE). The API server and the agent both check them.
 */
import { z } from 'zod';

/** Go's strconv.ParseBool, which Kubernetes uses for query parameters. */
const flag = (fallback: boolean) =>
  z
    .enum(['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'], { error: (i) => `Invalid value "${String(i.input)}": must be true or false` })
    .optional()
    .transform((v) => (v === undefined ? fallback : /^(1|t|true)$/i.test(v)));

const ExecQuerySchema = z
  .object({
    command: z.array(z.string()).min(1, 'Required value: a command to run (repeat command= for each argument)'),
    stdin: flag(false),
    stdout: flag(true),
    stderr: flag(true),
    tty: flag(false),
    user: z.string().min(1).optional(),
    workingDir: z.string().startsWith('/', 'Invalid value: must be an absolute path').optional(),
    env: z.array(z.string().regex(/^[^=]+=/, 'Invalid value: want NAME=VALUE')),
  })
  .refine((q) => q.stdin || q.stdout || q.stderr, { message: 'Required value: at least one of stdin, stdout and stderr must be true', path: ['stdout'] })
  // kubelet: a terminal has one output stream, so stderr is dropped with a tty
  .transform((q) => (q.tty ? { ...q, stderr: false } : q));
export type ExecQuery = z.infer<typeof ExecQuerySchema>;

export class ExecQueryError extends Error {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

export function parseExecQuery(q: URLSearchParams): ExecQuery {
  const one = (name: string) => q.getAll(name).at(-1);
  const r = ExecQuerySchema.safeParse({
    command: q.getAll('command'),
    stdin: one('stdin'),
    stdout: one('stdout'),
    stderr: one('stderr'),
    tty: one('tty'),
    user: one('user'),
    workingDir: one('workingDir'),
    env: q.getAll('env'),
  });
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new ExecQueryError(issue.path.join('.').replace(/\.(\d+)$/, '[$1]'), issue.message);
}

/** The query string a client sends for `q`. */
export function execQueryString(q: Partial<ExecQuery> & { command: string[] }): string {
  const p = new URLSearchParams();
  for (const c of q.command) p.append('command', c);
  for (const k of ['stdin', 'stdout', 'stderr', 'tty'] as const) if (q[k] !== undefined) p.set(k, String(q[k]));
  if (q.user) p.set('user', q.user);
  if (q.workingDir) p.set('workingDir', q.workingDir);
  for (const e of q.env ?? []) p.append('env', e);
  return p.toString();
}

/**
 * Query parameters of the Container attach subresource: Kubernetes' PodAttachOptions (stdin, stdout,
 * stderr, tty; stdout and stderr default to true, a tty has no stderr). Attaching to a container that
 * is not running waits for its next start and sees its output from the first byte.
 */
const AttachQuerySchema = z
  .object({ stdin: flag(false), stdout: flag(true), stderr: flag(true), tty: flag(false) })
  .refine((q) => q.stdin || q.stdout || q.stderr, { message: 'Required value: at least one of stdin, stdout and stderr must be true', path: ['stdout'] })
  .transform((q) => (q.tty ? { ...q, stderr: false } : q));
export type AttachQuery = z.infer<typeof AttachQuerySchema>;

export function parseAttachQuery(q: URLSearchParams): AttachQuery {
  const one = (name: string) => q.getAll(name).at(-1);
  const r = AttachQuerySchema.safeParse({ stdin: one('stdin'), stdout: one('stdout'), stderr: one('stderr'), tty: one('tty') });
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new ExecQueryError(issue.path.join('.'), issue.message);
}

export function attachQueryString(q: Partial<AttachQuery>): string {
  const p = new URLSearchParams();
  for (const k of ['stdin', 'stdout', 'stderr', 'tty'] as const) if (q[k] !== undefined) p.set(k, String(q[k]));
  return p.toString();
}

/** Signals the kill subresource takes: a name with or without SIG, or a number. */
export const SIGNAL_RE = /^((SIG)?[A-Z][A-Z0-9+-]*|[0-9]{1,2})$/;
