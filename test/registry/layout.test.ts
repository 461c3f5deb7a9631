import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/canonical-json.js';
import { writeImageArchive, type ArchiveInput } from '../../src/outputs/docker/archive.js';
import { writeStreamAtomic } from '../../src/outputs/docker/stream-file.js';
import { layoutFromBuild, openLayout, readBlob, type OciLayout } from '../../src/outputs/oci/layout.js';
import { layoutContents, walkImage } from '../../src/outputs/oci/walk.js';
import { requireTool, tempDir } from '../helpers/env.js';

const tmp = tempDir('dbco-layout-');
afterAll(() => tmp.cleanup());

function fakeImage(): ArchiveInput {
  const layers = [3000, 70_000, 1 << 20].map((size, i) => {
    const bytes = randomBytes(size);
    const p = path.join(tmp.dir, `layer${i}.tar`);
    writeFileSync(p, bytes);
    return { path: p, diffId: `sha256:${sha256Hex(bytes)}`, size };
  });
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } }));
  return { config: { bytes: config, id: `sha256:${sha256Hex(config)}` }, layers, tags: ['demo:1', 'demo:2'], mtime: 0 };
}

async function blobDigests(layout: OciLayout): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const { images } = await layoutContents(layout);
  for (const image of images) {
    const graph = await walkImage(layout, image);
    for (const b of [...graph.blobs, ...graph.manifests.map((m) => m.desc)]) {
      out.set(b.digest, `sha256:${sha256Hex(await readBlob(layout, b, 1 << 30))}`);
    }
  }
  return out;
}

describe('OCI layout model', () => {
  const image = fakeImage();

  it('from the build: one image, blobs before the manifest, the tags as one root', async () => {
    const layout = layoutFromBuild(image);
    const { images, artifacts } = await layoutContents(layout);
    expect(images).toHaveLength(1);
    expect(artifacts).toEqual([]);
    const graph = await walkImage(layout, images[0]!);
    expect(graph.blobs.map((b) => b.digest)).toEqual([image.config.id, ...image.layers.map((l) => l.diffId)]);
    expect(graph.manifests.map((m) => m.desc.digest)).toEqual([images[0]!.digest]);
    for (const [digest, actual] of await blobDigests(layout)) expect(actual).toBe(digest);
  });

  it('the archive written with --output reads back as the same layout', async () => {
    const file = path.join(tmp.dir, 'image.tar');
    await writeStreamAtomic(writeImageArchive(image), file);
    const fromArchive = await openLayout(file);
    const fromBuild = layoutFromBuild(image);
    expect(fromArchive.index).toEqual(fromBuild.index);
    expect(await blobDigests(fromArchive)).toEqual(await blobDigests(fromBuild));
    await fromArchive.close();
  });

  it("reads skopeo's own OCI layouts, folder and archive", async () => {
    requireTool('skopeo');
    const file = path.join(tmp.dir, 'image2.tar');
    await writeStreamAtomic(writeImageArchive({ ...image, tags: ['demo:1'] }), file);
    const dir = path.join(tmp.dir, 'skopeo-dir');
    const tar = path.join(tmp.dir, 'skopeo.tar');
    execFileSync('skopeo', ['copy', '-q', `oci-archive:${file}`, `oci:${dir}:demo`]);
    execFileSync('skopeo', ['copy', '-q', `oci:${dir}:demo`, `oci-archive:${tar}:demo`]);
    for (const where of [dir, tar]) {
      const layout = await openLayout(where);
      const got = await blobDigests(layout);
      for (const [digest, actual] of got) expect(actual).toBe(digest);
      // skopeo compresses the layers on the way: same config, as many blobs, other layer digests.
      expect(got.size).toBe(1 + image.layers.length + 1);
      expect(got.has(image.config.id)).toBe(true);
      await layout.close();
    }
  });

  it('a file that is no layout is one clear error', async () => {
    const file = path.join(tmp.dir, 'not.tar');
    writeFileSync(file, Buffer.alloc(1024));
    await expect(openLayout(file)).rejects.toThrow(/not an OCI image layout/);
    await expect(openLayout(path.join(tmp.dir, 'missing'))).rejects.toThrow(/no such file/);
  });
});
