import { jsonLines } from './engine-api/json-lines.js';

/**
 * What an engine says while it loads an archive (POST /images/load): JSON lines, one object each.
 * dockerd (graph driver) says `Loaded image ID: sha256:<config digest>` for an untagged image and
 * `Loaded image: NAME:TAG` for each tag; dockerd with the containerd store says the same with the
 * manifest's digest as the ID; Podman says `Loaded image: NAME` (or `Loaded image(s): A,B`), with
 * `localhost/` before names without a registry. Failures arrive in the same stream, after a 200.
 */
export interface LoadReport {
  /** IDs the engine named (`Loaded image ID:`), as it wrote them. */
  ids: string[];
  /** References the engine named (`Loaded image:`). */
  refs: string[];
  /** Every non-progress line, for messages. */
  messages: string[];
}

interface LoadLine {
  stream?: string;
  status?: string;
  progressDetail?: unknown;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

/** `onLayer`: each 'Loading layer' line (dockerd's graph driver reports each layer it registers). */
export async function parseLoadStream(
  chunks: AsyncIterable<Buffer | string>, fail: (message: string) => Error,
  onLayer?: (id: string, current: number, total: number) => void,
): Promise<LoadReport> {
  const report: LoadReport = { ids: [], refs: [], messages: [] };
  for await (const msg of jsonLines<LoadLine>(chunks, (line) => fail(`unexpected reply ${JSON.stringify(line.slice(0, 200))}`))) {
    if (msg.error || msg.errorDetail) throw fail(msg.errorDetail?.message ?? msg.error ?? 'unknown error');
    // Progress bars ('Loading layer' with progressDetail) say nothing about what was loaded.
    if (msg.status && msg.progressDetail) {
      const { current, total } = msg.progressDetail as { current?: number; total?: number };
      if (msg.id && typeof current === 'number' && typeof total === 'number') onLayer?.(msg.id, current, total);
      continue;
    }
    for (const text of (msg.stream ?? msg.status ?? '').split('\n')) {
      const t = text.trim();
      if (!t) continue;
      report.messages.push(t);
      const id = /^Loaded image ID:\s*(\S+)$/.exec(t);
      if (id) { report.ids.push(id[1]!); continue; }
      const refs = /^Loaded image(?:\(s\))?:\s*(.+)$/.exec(t);
      if (refs) report.refs.push(...refs[1]!.split(',').map((r) => r.trim()).filter(Boolean));
    }
  }
  return report;
}
