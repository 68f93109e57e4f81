import { RuntimeError, type RuntimeErrorCode } from '../util/errors.js';

/** Where in a Dockerfile something went wrong. */
export interface SourceLocation {
  file: string;
  line: number;
  /** The instruction keyword (RUN, COPY...), when the error belongs to one. */
  instruction?: string;
}

/** A build failure with the Dockerfile line it belongs to: `Dockerfile:7: RUN: ...`. */
export class BuildError extends RuntimeError {
  constructor(
    code: RuntimeErrorCode,
    readonly detail: string,
    readonly location?: SourceLocation,
  ) {
    super(code, location ? `${location.file}:${location.line}: ${location.instruction ? `${location.instruction}: ` : ''}${detail}` : detail);
    this.name = 'BuildError';
  }
}

export const buildError = (detail: string, location?: SourceLocation, code: RuntimeErrorCode = 'Invalid'): BuildError =>
  new BuildError(code, detail, location);

/** Re-raises any error as a BuildError that names the location (keeps the code of runtime errors). */
export function atLocation(e: unknown, location: SourceLocation): BuildError {
  if (e instanceof BuildError) return e.location ? e : new BuildError(e.code, e.detail, location);
  if (e instanceof RuntimeError) return new BuildError(e.code, e.message, location);
  return new BuildError('Failed', e instanceof Error ? e.message : String(e), location);
}
