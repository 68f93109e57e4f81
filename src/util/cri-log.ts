/**
 * One line of the CRI container log format (what conmon's k8s-file log writes and the log subresource's
 * format=cri sends): `<RFC3339Nano time> <stdout|stderr> <F|P> <text>`, P marking a partial line that
 * the next record of the stream continues. Four space-separated fields: no package parses it.
 */
export interface CriLogLine {
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  text: string;
}

/** A record line (without its newline), or undefined when it is not one. */
export function parseCriLogLine(raw: string): CriLogLine | undefined {
  const a = raw.indexOf(' ');
  const b = raw.indexOf(' ', a + 1);
  const c = raw.indexOf(' ', b + 1);
  if (a < 0 || b < 0) return undefined;
  const stream = raw.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = c < 0 ? raw.slice(b + 1) : raw.slice(b + 1, c);
  return { time: raw.slice(0, a), stream, partial: tag.startsWith('P'), text: c < 0 ? '' : raw.slice(c + 1) };
}
