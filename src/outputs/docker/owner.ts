import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * Who made an engine object: host, pid and the process's start time, so a later run can tell the
 * leftovers of a dead run (kill -9) from the objects of a build still running. An image cannot carry a
 * label without changing its ID, so images carry the owner in their dbco-internal tag; containers in
 * labels as well.
 */
export interface Owner {
  /** First 8 hex of sha256(hostname): pids mean nothing on another host. */
  host: string;
  pid: number;
  /** Start time in clock ticks since boot (/proc/PID/stat field 22); 0 when unknown. */
  started: number;
}

export const INTERNAL_REPO = 'dbco-internal';
export const LABEL_INTERNAL = 'dbco.internal';
export const LABEL_OWNER = 'dbco.owner';

function hostHash(): string {
  return createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
}

function startTicks(pid: number | 'self'): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses): state is field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[22 - 3]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

let self: Owner | undefined;
export function selfOwner(): Owner {
  self ??= { host: hostHash(), pid: process.pid, started: startTicks('self') ?? 0 };
  return self;
}

/** 'p1234-t5678-h0a1b2c3d': valid in a tag and a label value. */
export function ownerToken(o: Owner = selfOwner()): string {
  return `p${o.pid}-t${o.started}-h${o.host}`;
}

/** The owner at the end of a token or tag, or a bare pid at its end (tags of dbco before owners). */
export function parseOwner(text: string): Owner | undefined {
  const m = /p(\d+)-t(\d+)-h([0-9a-f]{8})$/.exec(text);
  if (m) return { pid: Number(m[1]), started: Number(m[2]), host: m[3]! };
  const legacy = /-(\d+)$/.exec(text);
  if (legacy) return { pid: Number(legacy[1]), started: 0, host: hostHash() };
  return undefined;
}

/**
 * Whether the run that made an object may still be running. Objects of another host are never taken
 * for dead (their pids cannot be checked from here).
 */
export function ownerAlive(o: Owner): boolean {
  if (o.host !== hostHash()) return true;
  if (o.pid === process.pid) return o.started === 0 || o.started === selfOwner().started;
  try {
    process.kill(o.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // The pid is in use: by the same process only if it started at the same tick.
  const started = startTicks(o.pid);
  return o.started === 0 || started === undefined || started === o.started;
}

/** A dbco-internal reference of this run: `dbco-internal/KIND:NAME-OWNER`. */
export function internalRef(kind: string, name: string): string {
  return `${INTERNAL_REPO}/${kind}:${name ? `${name}-` : ''}${ownerToken()}`;
}

/** The tag part of a reference naming dbco-internal (podman writes localhost/dbco-internal/...). */
export function internalTagOf(ref: string): string | undefined {
  const m = /(?:^|\/)dbco-internal\/[^:@/]+:([^@]+)$/.exec(ref);
  return m?.[1];
}
