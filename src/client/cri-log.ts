/**
 * Reads a Container's log subresource asked with `format=cri`: one line per record as the CRI container
 * log format writes it, `<RFC3339Nano time> <stdout|stderr> <F|P> <text>`, so that stdout and stderr stay
 * apart and in order (what `docker logs` and the Docker API's multiplexed stream need). The server joins
 * partial lines, so every record here is whole.
 */
import { parseCriLogLine } from '../util/cri-log.js';

export interface LogRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

/** Longest line kept whole (the runtime's log lines are capped well below this); past it a line is cut. */
const MAX_LINE = 1 << 20;

function parse(raw: string): LogRecord | undefined {
  const r = parseCriLogLine(raw);
  return r && { time: r.time, stream: r.stream, text: r.text };
}

/** Records from a chunked body; a line that is not a record (none should be) is passed on as stdout. */
export async function* criLogRecords(body: AsyncIterable<Buffer | string>): AsyncGenerator<LogRecord> {
  let pending = '';
  for await (const chunk of body) {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const raw = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      yield parse(raw) ?? { time: '', stream: 'stdout', text: raw };
    }
    if (pending.length > MAX_LINE) {
      yield parse(pending) ?? { time: '', stream: 'stdout', text: pending };
      pending = '';
    }
  }
  if (pending) yield parse(pending) ?? { time: '', stream: 'stdout', text: pending };
}
