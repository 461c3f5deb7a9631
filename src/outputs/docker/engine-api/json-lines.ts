import { StringDecoder } from 'node:string_decoder';

/**
 * A stream of newline-separated JSON objects (the engine's progress streams), one parsed object per
 * line, however the lines are cut into chunks. A line that is not JSON goes to `bad`, which throws.
 */
export async function* jsonLines<T>(chunks: AsyncIterable<Buffer | string>, bad: (line: string) => Error): AsyncIterable<T> {
  const decoder = new StringDecoder('utf8'); // a character may be cut between two chunks
  let pending = '';
  const parse = (line: string): T | undefined => {
    if (!line.trim()) return undefined;
    try {
      return JSON.parse(line) as T;
    } catch {
      throw bad(line);
    }
  };
  for await (const chunk of chunks) {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const msg = parse(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      if (msg !== undefined) yield msg;
    }
  }
  const last = parse(pending + decoder.end());
  if (last !== undefined) yield last;
}
