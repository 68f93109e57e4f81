import type { ApiException } from '@kubernetes/client-node';

/**
 * client-node's ApiException, recognised by shape: importing the class would load all of
 * client-node on every command start, even for commands that never call the API.
 */
function isApiException(err: unknown): err is ApiException<unknown> {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'body' in err && 'headers' in err;
}

/** A user-facing failure: printed as `error: <message>`, exit code 1. */
export class CliError extends Error {}

/** Ends the command with an exit code after the details were already printed. */
export class ExitError extends Error {
  constructor(public readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

interface StatusLike {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { field?: string; message?: string }[] };
}

function parseBody(body: unknown): StatusLike | undefined {
  if (typeof body === 'string') {
    try {
      return parseBody(JSON.parse(body));
    } catch {
      return undefined;
    }
  }
  if (body && typeof body === 'object') return body as StatusLike;
  return undefined;
}

/** The Status object an API error carries, when the server sent one. */
export function statusOf(err: unknown): StatusLike | undefined {
  if (!isApiException(err)) return undefined;
  const status = parseBody(err.body);
  return status?.kind === 'Status' ? status : undefined;
}

export function isNotFound(err: unknown): boolean {
  return isApiException(err) && err.code === 404;
}

const reasonByCode: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/** kubectl's wording: `Error from server (NotFound): containers.berth.dev "x" not found`, plus causes the message leaves out. */
function describeApiError(err: ApiException<unknown>, where: string): string {
  const status = statusOf(err);
  const reason = status?.reason || reasonByCode[err.code] || `HTTP ${err.code}`;
  if (!status) {
    const body = typeof err.body === 'string' ? err.body.trim().split('\n')[0] : '';
    return `Error from server (${reason}): ${where}${body || `the server responded with HTTP ${err.code}`}`;
  }
  const message = status.message || `the server responded with HTTP ${err.code}`;
  const lines = [`Error from server (${reason}): ${where}${message}`];
  for (const cause of status.details?.causes ?? []) {
    if (!cause.message || message.includes(cause.message)) continue;
    lines.push(`  ${cause.field ? `${cause.field}: ` : ''}${cause.message}`);
  }
  return lines.join('\n');
}

function connectionMessage(err: Error & { code?: string }): string | undefined {
  const code = err.code ?? (err.cause as { code?: string } | undefined)?.code;
  if (code === 'ECONNREFUSED') {
    const addr = /ECONNREFUSED ([^\s,]+)/.exec(err.message)?.[1];
    return `the connection to the server${addr ? ` ${addr}` : ''} was refused - is \`berth server\` running, and is the kubeconfig right?`;
  }
  if (code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'ECONNRESET') {
    return `cannot reach the server: ${err.message}`;
  }
  return undefined;
}

/**
 * One clear line (more only for a Status with causes) for any error a command throws.
 * `context` (e.g. the manifest file and document) goes before the message.
 */
export function formatError(err: unknown, context?: string): string {
  const where = context ? `${context}: ` : '';
  if (isApiException(err)) return describeApiError(err, where);
  if (err instanceof CliError) return `error: ${where}${err.message}`;
  if (err instanceof Error) return `error: ${where}${connectionMessage(err) ?? err.message}`;
  return `error: ${where}${String(err)}`;
}
