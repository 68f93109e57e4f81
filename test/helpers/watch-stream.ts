/** Reads a Kubernetes watch response line by line. */
export interface WatchLine {
  type: string;
  object: Record<string, any>;
}

export class WatchReader {
  private buffer = '';
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly decoder = new TextDecoder();
  done = false;

  constructor(res: Response) {
    if (!res.body) throw new Error('watch response has no body');
    this.reader = res.body.getReader();
  }

  /** Next event, or undefined when the stream ended. */
  async next(): Promise<WatchLine | undefined> {
    for (;;) {
      const nl = this.buffer.indexOf('\n');
      if (nl >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (line.trim()) return JSON.parse(line) as WatchLine;
        continue;
      }
      const { value, done } = await this.reader.read();
      if (done) {
        this.done = true;
        return undefined;
      }
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  /** Events until one matches `until` (inclusive). */
  async collect(until: (e: WatchLine) => boolean): Promise<WatchLine[]> {
    const out: WatchLine[] = [];
    for (;;) {
      const e = await this.next();
      if (!e) return out;
      out.push(e);
      if (until(e)) return out;
    }
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => undefined);
  }
}
