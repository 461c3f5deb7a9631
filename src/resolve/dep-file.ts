/**
 * A .dep file as tce-load reads it: every blank (space, tab, CR, ...) is removed from each line, empty
 * lines are skipped. Upstream files carry trailing blanks, whitespace-only last lines, CRLF endings and
 * missing final newlines; all of them mean the same list.
 */
export function parseDepText(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const name = line.replace(/\s+/g, '');
    if (name) out.push(name);
  }
  return out;
}

export function withTcz(name: string): string {
  return name.endsWith('.tcz') ? name : `${name}.tcz`;
}

/** `scsi-KERNEL.tcz` -> `scsi-6.1.2-tinycore64.tcz`, as tce-load substitutes `uname -r`. */
export function substituteKernel(name: string, kernelVersion: string | undefined): string | null {
  if (!name.includes('-KERNEL.tcz')) return name;
  if (!kernelVersion) return null;
  return name.replaceAll('-KERNEL.tcz', `-${kernelVersion}.tcz`);
}
