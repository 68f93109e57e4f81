/** The --log-level and --log-format flags every role command takes, and applying them. */
import type { FlagSpecs } from '../cli/args.js';
import { CliError } from '../cli/errors.js';
import { configureLogging, LOG_LEVELS, parseLogFormat, parseLogLevel, type LogFormat, type LogLevel } from '../util/log.js';

export const logFlags = {
  'log-level': { type: 'string', valueName: 'LEVEL', description: `log level: ${LOG_LEVELS.join(', ')} (default: $BERTH_LOG_LEVEL, else info)` },
  'log-format': { type: 'string', valueName: 'FORMAT', description: 'log lines as json (one JSON object per line) or text (default: $BERTH_LOG_FORMAT, else json)' },
} as const satisfies FlagSpecs;

/** Configures the process's logger from the flags (the environment where a flag is absent). */
export function applyLogFlags(values: { 'log-level'?: string; 'log-format'?: string }): void {
  let level: LogLevel | undefined;
  let format: LogFormat | undefined;
  try {
    if (values['log-level'] !== undefined) level = parseLogLevel(values['log-level']);
    if (values['log-format'] !== undefined) format = parseLogFormat(values['log-format']);
  } catch (e) {
    throw new CliError(`--log-${level === undefined && values['log-level'] !== undefined ? 'level' : 'format'}: ${(e as Error).message}`);
  }
  configureLogging({ ...(level ? { level } : {}), ...(format ? { format } : {}) });
}
