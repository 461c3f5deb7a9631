import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { RecipeError, UnsafePathError } from '../errors.js';
import { comparePaths, type Entry } from '../formats/entry.js';
import { safePath } from '../formats/path.js';
import type { PreparedInputs } from '../resolve/prepared.js';
import { EntryTree } from './entry-tree.js';
import { LAYER_FORMAT } from './layer-format.js';
import type { Layer } from './layer.js';
import { SETUP_WRAPPER_PATH, setupWrapperScript } from './setup-wrapper.js';
import { hasWhiteoutName } from './whiteout-names.js';

export type SetupMode = 'build' | 'boot' | 'none';

export const TCE_INSTALLED_DIR = 'usr/local/tce.installed';
/**
 * tce-load runs as the tc user (the first uid adduser hands out, 1001) in group staff (50), so the
 * markers it `touch`es are tc:staff 0644. The dir itself is root:staff 0775 in the base and in every
 * tcz built by TC's convention (tce-setup's boot-time chown to tc is undone by `cp -a` of the first
 * such tcz); dbco sets it so whatever a tcz ships, so tce-load keeps working in the image.
 */
export const TC_UID = 1001;
/** TC's default login user, and where tc-config records it at boot (`echo "$USER" > ...`). */
export const TC_USER = 'tc';
export const TCUSER_PATH = 'etc/sysconfig/tcuser';
export const STAFF_GID = 50;
/** What tce-setup runs at boot after loading extensions (written by `tce-load -b`, one script a line). */
export const SETUP_LIST_PATH = 'tmp/setup.lst';
/** `tce-load -b` touches this when an extension holds kernel modules; tce-setup then runs depmod -a. */
export const NEW_MODULES_PATH = 'etc/sysconfig/newmodules';

export interface ConfigResult {
  layer: Layer;
  /** Absolute paths of the extensions' executable tce.installed scripts, in install order. */
  setupScripts: string[];
}

/**
 * The recipe's own layer, on top of base and extensions: what tce-load records per extension, the
 * bootlocal lines and persist list merged into the base's files, the setup hooks for `setup: boot`,
 * and the recipe's files (last, so they win).
 */
export async function configLayer(inputs: PreparedInputs, lower: readonly Layer[], opts: { epoch: number; setup: SetupMode }): Promise<ConfigResult> {
  const { recipe } = inputs;
  const where = inputs.recipePath;
  const below = new EntryTree();
  for (const l of lower) below.addLayer(l.entries, l.whiteouts);
  const out = new Map<string, Entry>();
  const { epoch } = opts;

  const isDir = (p: string): boolean => (out.get(p) ?? below.get(p))?.kind === 'dir';
  // Every parent is in the layer too, as the layers below have it (new ones root 0755): the layer is
  // then a complete tree on its own, e.g. a frugal disk's second initramfs, which the kernel unpacks
  // over the base without turning /opt (root:staff 2775) into a root 0755 dir.
  const addParents = (p: string, field: string): void => {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (out.has(dir)) {
        if (out.get(dir)!.kind !== 'dir') throw new RecipeError(where, field, `/${dir} is a file in this recipe, so /${p} cannot be created under it`);
        continue;
      }
      const existing = below.get(dir);
      if (existing && existing.kind !== 'dir') throw new RecipeError(where, field, `/${dir} is a ${existing.kind} in the image, so /${p} cannot be created under it`);
      const { mode, uid, gid } = existing ?? { mode: 0o755, uid: 0, gid: 0 };
      out.set(dir, { path: dir, kind: 'dir', mode, uid, gid, mtime: epoch, size: 0 });
    }
  };
  const put = (e: Entry, field: string): void => {
    addParents(e.path, field);
    out.set(e.path, e);
  };
  const text = (p: string, data: string, meta: { mode: number; uid: number; gid: number }): Entry => bytesEntry(p, Buffer.from(data, 'utf8'), meta, epoch);

  // What tce-load leaves per extension: its setup script (shipped executable in the tcz) or an empty marker.
  const setupScripts: string[] = [];
  if (inputs.extensions.length > 0) {
    put({ path: TCE_INSTALLED_DIR, kind: 'dir', mode: 0o775, uid: 0, gid: STAFF_GID, mtime: epoch, size: 0 }, 'extensions');
    for (const ext of inputs.extensions) {
      const p = `${TCE_INSTALLED_DIR}/${ext.name.replace(/\.tcz$/, '')}`;
      const shipped = below.get(p);
      if (shipped?.kind === 'file' && (shipped.mode & 0o111) !== 0) setupScripts.push(`/${p}`);
      else if (!shipped) put(bytesEntry(p, Buffer.alloc(0), { mode: 0o644, uid: TC_UID, gid: STAFF_GID }, epoch), 'extensions');
    }
  }
  // Setup scripts read the login user from the file tc-config writes at boot (Xprogs:
  // USER=`cat /etc/sysconfig/tcuser`); a container never runs tc-config, so write what it would.
  if (setupScripts.length > 0 && !below.get(TCUSER_PATH)) put(text(TCUSER_PATH, `${TC_USER}\n`, { mode: 0o644, uid: 0, gid: 0 }), 'extensions');

  if (recipe.bootlocal?.length) {
    const p = 'opt/bootlocal.sh';
    const existing = below.get(p);
    let body = existing?.kind === 'file' ? await readAll(existing) : '#!/bin/sh\n';
    if (body.length && !body.endsWith('\n')) body += '\n';
    body += recipe.bootlocal.map((l) => `${l}\n`).join('');
    put(text(p, body, existing?.kind === 'file' ? existing : { mode: 0o775, uid: 0, gid: STAFF_GID }), 'bootlocal');
  }

  if (recipe.persist?.length) {
    const p = 'opt/.filetool.lst';
    const existing = below.get(p);
    const lines = existing?.kind === 'file' ? (await readAll(existing)).split('\n').map((l) => l.trim()).filter((l) => l !== '') : [];
    recipe.persist.forEach((raw, i) => {
      const item = checkedPath(raw, where, `persist[${i}]`);
      if (!lines.includes(item)) lines.push(item);
    });
    put(text(p, lines.map((l) => `${l}\n`).join(''), existing?.kind === 'file' ? existing : { mode: 0o664, uid: 0, gid: STAFF_GID }), 'persist');
  }

  if (opts.setup === 'boot') {
    put(text(SETUP_WRAPPER_PATH.slice(1), setupWrapperScript(setupScripts), { mode: 0o755, uid: 0, gid: 0 }), 'image.setup');
    if (setupScripts.length) {
      put(text(SETUP_LIST_PATH, setupScripts.map((s) => `${s}\n`).join(''), { mode: 0o644, uid: TC_UID, gid: STAFF_GID }), 'image.setup');
    }
    const hasModules = lower.some((l) => l.id.startsWith('ext:') && l.entries.some((e) => e.kind === 'dir' && /(^|\/)modules$/.test(e.path)));
    if (hasModules) put(bytesEntry(NEW_MODULES_PATH, Buffer.alloc(0), { mode: 0o644, uid: 0, gid: 0 }, epoch), 'image.setup');
  }

  for (const [i, spec] of (recipe.files ?? []).entries()) {
    const field = `files[${i}]`;
    const dest = checkedPath(spec.dest, where, `${field}.dest`);
    if (hasWhiteoutName(dest)) {
      throw new RecipeError(where, `${field}.dest`, `${spec.dest}: a name starting with .wh. is a whiteout in a Docker layer (it would delete a file of the image), so dbco refuses it`);
    }
    if (isDir(dest)) throw new RecipeError(where, `${field}.dest`, `${spec.dest} is a directory in the image`);
    const mode = spec.mode === undefined ? 0o644 : parseInt(spec.mode, 8);
    const [uid, gid] = spec.owner === undefined ? [0, 0] : spec.owner.split(':').map(Number) as [number, number];
    if ((spec.src === undefined) === (spec.content === undefined)) throw new RecipeError(where, field, 'give exactly one of src or content');
    if (spec.content !== undefined) {
      put(text(dest, spec.content, { mode, uid, gid }), `${field}.dest`);
      continue;
    }
    const src = path.resolve(inputs.recipeDir, spec.src!);
    const st = await stat(src).catch((err: NodeJS.ErrnoException) => {
      throw new RecipeError(where, `${field}.src`, `cannot read ${src}: ${err.code ?? err.message}`);
    });
    if (!inputs.allowOutsideSrc) await checkInside(inputs.recipeDir, src, where, `${field}.src`);
    if (!st.isFile()) throw new RecipeError(where, `${field}.src`, `${src} is not a regular file`);
    put({ path: dest, kind: 'file', mode, uid, gid, mtime: epoch, size: st.size, open: () => createReadStream(src) }, `${field}.dest`);
  }

  const entries = [...out.values()].sort((a, b) => comparePaths(a.path, b.path));
  return {
    layer: { id: 'config', entries, cacheKey: `config:${LAYER_FORMAT}:${await digestEntries(entries)}:epoch=${epoch}` },
    setupScripts,
  };
}

/**
 * A recipe from elsewhere must not bake host files (/etc/shadow, ../../secrets) into an image that
 * may then be pushed: `src` must resolve, symlinks followed, inside the recipe's folder unless the
 * user allows more on the command line.
 */
async function checkInside(dir: string, src: string, where: string, field: string): Promise<void> {
  const [root, real] = await Promise.all([realpath(dir), realpath(src)]);
  const rel = path.relative(root, real);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new RecipeError(where, field, `${src} is outside the recipe's folder ${root}: refused (pass --allow-outside-src to allow it)`);
  }
}

function checkedPath(raw: string, where: string, field: string): string {
  let p: string;
  try {
    p = safePath(raw);
  } catch (err) {
    if (err instanceof UnsafePathError) throw new RecipeError(where, field, `${JSON.stringify(raw)}: ${err.message}`);
    throw err;
  }
  if (p === '') throw new RecipeError(where, field, `${JSON.stringify(raw)} names the root directory`);
  return p;
}

function bytesEntry(p: string, data: Buffer, meta: { mode: number; uid: number; gid: number }, mtime: number): Entry {
  return {
    path: p, kind: 'file', mode: meta.mode & 0o7777, uid: meta.uid, gid: meta.gid, mtime, size: data.length,
    open: async function* () { yield data; },
  };
}

async function readAll(e: Entry): Promise<string> {
  const chunks: Buffer[] = [];
  if (e.open) for await (const c of e.open()) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

/** Identity of the layer's content: every entry's metadata and the sha256 of its bytes. */
async function digestEntries(entries: readonly Entry[]): Promise<string> {
  const h = createHash('sha256');
  for (const e of entries) {
    let content = '';
    if (e.kind === 'file' && e.open) {
      const ch = createHash('sha256');
      for await (const c of e.open()) ch.update(c);
      content = ch.digest('hex');
    }
    h.update(JSON.stringify([e.path, e.kind, e.mode, e.uid, e.gid, e.size, e.linkname ?? null, e.devmajor ?? null, e.devminor ?? null, content]));
    h.update('\n');
  }
  return h.digest('hex');
}
