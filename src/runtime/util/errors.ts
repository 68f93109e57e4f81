/** Errors the runtime core raises; `code` lets callers map them (e.g. to HTTP statuses) without string matching. */
export type RuntimeErrorCode = 'NotFound' | 'Conflict' | 'Invalid' | 'Unsafe' | 'Failed';

export class RuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = `Runtime${code}Error`;
  }
}

export const notFound = (message: string): RuntimeError => new RuntimeError('NotFound', message);
export const conflict = (message: string): RuntimeError => new RuntimeError('Conflict', message);
export const invalid = (message: string): RuntimeError => new RuntimeError('Invalid', message);
export const unsafe = (message: string): RuntimeError => new RuntimeError('Unsafe', message);
export const failed = (message: string): RuntimeError => new RuntimeError('Failed', message);

export function isNodeError(e: unknown, code: string): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}
