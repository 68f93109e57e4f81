/**
 * The one logger of Berth's processes (server, apiserver, controller, agent, registry): one
 * structured line per event on stderr, through pino. Lines are JSON (pino's format, for machines)
 * or, with --log-format text / BERTH_LOG_FORMAT=text, `TIME LEVEL component: message key=value`.
 * The level is set with --log-level or BERTH_LOG_LEVEL (trace, debug, info, warn, error, silent;
 * default info). An expected condition (an optimistic-concurrency conflict that a controller
 * retries) is a debug line at most, and no line carries a stack or a response body unless the error
 * was unexpected: `errorText` keeps one line of an error's message, capped.
 *
 * Code that takes a `LogFn` (controllers, informers, the agent) logs through `logFn(component)`;
 * code that wants fields uses `logger(component)`, a pino child logger.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'json' | 'text';

/** A line logger: what controllers, informers and the agent are given. The level defaults to info. */
export type LogFn = (msg: string, level?: Exclude<LogLevel, 'silent'>, fields?: Record<string, unknown>) => void;

export function parseLogLevel(value: string): LogLevel {
  const v = value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new Error(`log level must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
}

export function parseLogFormat(value: string): LogFormat {
  const v = value.trim().toLowerCase();
  if (v === 'json' || v === 'text') return v;
  throw new Error(`log format must be json or text, got "${value}"`);
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function textValue(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

/** pino's JSON line as `TIME LEVEL component: msg key=value ...`, still one line. */
export function jsonLineToText(line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, component, msg, pid: _pid, hostname: _host, ...rest } = rec;
  const head = [String(time ?? ''), LEVEL_NAMES[Number(level)] ?? String(level), component ? `${String(component)}:` : ''].filter(Boolean).join(' ');
  const tail = Object.entries(rest).map(([k, v]) => `${k}=${textValue(v)}`);
  return `${[head, String(msg ?? ''), ...tail].filter(Boolean).join(' ')}\n`;
}

/** Synchronous writes to fd 2: a line is out before the process can exit or crash. */
function destination(format: LogFormat, write: (s: string) => void): DestinationStream {
  return { write: format === 'json' ? write : (line: string) => write(jsonLineToText(line)) };
}

const stderrWrite = (s: string): void => {
  process.stderr.write(s);
};

function envLevel(): LogLevel {
  const v = process.env.BERTH_LOG_LEVEL;
  if (!v) return 'info';
  try {
    return parseLogLevel(v);
  } catch {
    return 'info';
  }
}

function envFormat(): LogFormat {
  const v = process.env.BERTH_LOG_FORMAT;
  return v && v.trim().toLowerCase() === 'text' ? 'text' : 'json';
}

function makeRoot(level: LogLevel, format: LogFormat, write: (s: string) => void): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (_label, n) => ({ level: n }) } }, destination(format, write));
}

let root: Logger = makeRoot(envLevel(), envFormat(), stderrWrite);
const children = new Map<string, Logger>();

/**
 * Sets the level and format of every logger (flags of the role commands win over the environment);
 * `write` replaces stderr (tests).
 */
export function configureLogging(o: { level?: LogLevel; format?: LogFormat; write?: (s: string) => void }): void {
  root = makeRoot(o.level ?? envLevel(), o.format ?? envFormat(), o.write ?? stderrWrite);
  children.clear();
}

/** The logger of one component ('apiserver', 'agent', 'controller', 'registry', 'server'...). */
export function logger(component: string): Logger {
  let l = children.get(component);
  if (!l) {
    l = root.child({ component });
    children.set(component, l);
  }
  return l;
}

/** A LogFn writing through `logger(component)`. */
export function logFn(component: string): LogFn {
  return (msg, level = 'info', fields) => {
    const l = logger(component);
    if (fields) l[level](fields, msg);
    else l[level](msg);
  };
}

const MAX_ERROR_TEXT = 512;

/**
 * One line of an error's message, at most 512 characters: what a log line says about an expected
 * failure (no stack, no response body, no headers).
 */
export function errorText(err: unknown): string {
  const raw = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  const first = (raw ?? '').split('\n').find((l) => l.trim() !== '') ?? '';
  return first.length > MAX_ERROR_TEXT ? `${first.slice(0, MAX_ERROR_TEXT)}…` : first;
}
