import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool, runDbco, tempDir } from '../helpers/env.js';
import { docker, removeImages } from '../docker/helpers/docker-util.js';
import { multiArchMirror, writeMultiRecipe } from './fixtures.js';

interface Descriptor { mediaType: string; digest: string; size: number; platform?: { architecture: string; os: string }; annotations?: Record<string, string> }
interface Index { manifests: Descriptor[] }

/** A layout member of an --output archive, as bytes. */
function member(archive: string, name: string): Buffer {
  return execFileSync('tar', ['-xOf', archive, name], { maxBuffer: 64 << 20 });
}
const json = <T>(archive: string, name: string): T => JSON.parse(member(archive, name).toString('utf8')) as T;
const blob = <T>(archive: string, digest: string): T => json<T>(archive, `blobs/sha256/${digest.slice(7)}`);

describe('multi-arch recipe: arch [x86, x86_64], one OCI index', () => {
  const tmp = tempDir('dbco-multiarch-');
  const cache = path.join(tmp.dir, 'cache');
  const tag = `dbco-multiarch-${process.pid}:latest`;
  const tag386 = `dbco-multiarch-${process.pid}:386`;
  let mirror: string;
  let recipe: string;
  const out = (n: string): string => path.join(tmp.dir, n);

  beforeAll(async () => {
    for (const t of ['tar', 'skopeo', 'umoci', 'docker', 'cpio', 'gzip']) requireTool(t);
    mirror = multiArchMirror(path.join(tmp.dir, 'mirror'));
    recipe = writeMultiRecipe(tmp.dir, 'multi', mirror, tag);
    const all = await runDbco(['image', recipe, '--docker', '-o', out('multi.tar'), '--cache', cache]);
    expect(all.code, all.stderr).toBe(0);
    for (const [p, file] of [['linux/386', 'x86.tar'], ['linux/amd64', 'amd64.tar']]) {
      const one = await runDbco(['image', recipe, '--docker', '--platform', p!, '-o', out(file!), '--cache', cache]);
      expect(one.code, one.stderr).toBe(0);
    }
  }, 240_000);
  afterAll(() => { removeImages(tag, tag386); tmp.cleanup(); });

  test('index.json names one image index with linux/386 and linux/amd64; each manifest is the single-arch build\'s', () => {
    const top = json<Index>(out('multi.tar'), 'index.json');
    expect(top.manifests).toHaveLength(1);
    expect(top.manifests[0]!.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(top.manifests[0]!.annotations?.['org.opencontainers.image.ref.name']).toBe('latest');
    const index = blob<Index>(out('multi.tar'), top.manifests[0]!.digest);
    expect(index.manifests.map((d) => `${d.platform?.os}/${d.platform?.architecture}`)).toEqual(['linux/386', 'linux/amd64']);
    for (const [i, single] of [[0, 'x86.tar'], [1, 'amd64.tar']] as const) {
      const one = json<Index>(out(single), 'index.json').manifests[0]!;
      expect(index.manifests[i]!.digest).toBe(one.digest);
      expect(index.manifests[i]!.size).toBe(one.size);
      expect(member(out('multi.tar'), `blobs/sha256/${one.digest.slice(7)}`)).toEqual(member(out(single), `blobs/sha256/${one.digest.slice(7)}`));
    }
    // Per arch: its own mirror folder, base and default kernel.
    const x86 = blob<{ config: { digest: string } }>(out('multi.tar'), index.manifests[0]!.digest);
    const cfg = blob<{ architecture: string; config: { Labels: Record<string, string> } }>(out('multi.tar'), x86.config.digest);
    expect(cfg.architecture).toBe('386');
    expect(cfg.config.Labels['dbco.tc.arch']).toBe('x86');
  });

  test('the amd64 image equals a single-arch recipe\'s but for the lock digest label', async () => {
    const single = path.join(tmp.dir, 'single.yaml');
    writeFileSync(single, readFileSync(recipe, 'utf8')
      .replace('arch: [x86, x86_64]', 'arch: x86_64')
      .replace('base: { x86_64: rootfs64.gz }', 'base: rootfs64.gz\nkernel: vmlinuz64'));
    const r = await runDbco(['image', single, '--docker', '-o', out('single.tar'), '--cache', cache]);
    expect(r.code, r.stderr).toBe(0);
    const configOf = (archive: string): Record<string, unknown> & { config: { Labels: Record<string, string> } } => {
      const m = blob<{ config: { digest: string } }>(archive, json<Index>(archive, 'index.json').manifests[0]!.digest);
      return blob(archive, m.config.digest);
    };
    const a = configOf(out('amd64.tar'));
    const b = configOf(out('single.tar'));
    delete a.config.Labels['dbco.lock.digest'];
    delete b.config.Labels['dbco.lock.digest'];
    expect(a).toEqual(b);
  }, 120_000);

  test('skopeo picks either platform from the archive; umoci reads the layout', () => {
    const inspect = (extra: string[]): { Architecture: string; Labels: Record<string, string> } =>
      JSON.parse(execFileSync('skopeo', [...extra, 'inspect', `oci-archive:${out('multi.tar')}`]).toString());
    expect(inspect(['--override-arch', 'amd64']).Architecture).toBe('amd64');
    const i386 = inspect(['--override-arch', '386']);
    expect(i386.Architecture).toBe('386');
    expect(i386.Labels['dbco.tc.arch']).toBe('x86');
    // skopeo copies one platform out of the index into an OCI folder; umoci unpacks that.
    const oci = out('oci-386');
    execFileSync('skopeo', ['--override-arch', '386', 'copy', `oci-archive:${out('multi.tar')}`, `oci:${oci}:x86`]);
    const layout = out('layout');
    mkdirSync(layout);
    execFileSync('tar', ['-xf', out('multi.tar'), '-C', layout]);
    expect(execFileSync('umoci', ['ls', '--layout', layout]).toString().trim()).toBe('latest');
    const bundle = out('bundle');
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${oci}:x86`, bundle], { stdio: 'pipe' });
    expect(readFileSync(path.join(bundle, 'rootfs/etc/motd'), 'utf8')).toBe('two arches');
    expect(existsSync(path.join(bundle, 'rootfs/bin/busybox'))).toBe(true);
  }, 120_000);

  test('docker load of the archive gets linux/amd64; --docker --platform linux/386 loads the other', async () => {
    docker(['load', '-i', out('multi.tar')]);
    expect(docker(['image', 'inspect', '--format', '{{.Architecture}}', tag]).trim()).toBe('amd64');
    const r = await runDbco(['image', recipe, '--docker', '--platform', 'linux/386', '--tag', tag386, '--cache', cache]);
    expect(r.code, r.stderr).toBe(0);
    expect(docker(['image', 'inspect', '--format', '{{.Architecture}}', tag386]).trim()).toBe('386');
    const id386 = r.stdout.split('\n')[0]!;
    const x86Index = json<Index>(out('x86.tar'), 'index.json').manifests[0]!;
    expect(id386).toBe(blob<{ config: { digest: string } }>(out('x86.tar'), x86Index.digest).config.digest);
  }, 120_000);

  test('lock per arch; rootfs and disk need --platform', async () => {
    const lock = await runDbco(['lock', recipe, '--cache', cache]);
    expect(lock.code, lock.stderr).toBe(0);
    const l86 = JSON.parse(readFileSync(path.join(tmp.dir, 'multi.x86.lock.json'), 'utf8')) as { arch: string; base: { path: string }; kernel: { path: string } };
    const l64 = JSON.parse(readFileSync(path.join(tmp.dir, 'multi.x86_64.lock.json'), 'utf8')) as { arch: string; base: { path: string }; kernel: { path: string } };
    expect([l86.arch, l86.base.path, l86.kernel.path]).toEqual(['x86', '6.x/x86/release/distribution_files/core.gz', '6.x/x86/release/distribution_files/vmlinuz']);
    expect([l64.arch, l64.base.path, l64.kernel.path]).toEqual(['x86_64', '6.x/x86_64/release/distribution_files/rootfs64.gz', '6.x/x86_64/release/distribution_files/vmlinuz64']);
    const frozen = await runDbco(['image', recipe, '--docker', '--frozen', '--offline', '-o', out('frozen.tar'), '--cache', cache]);
    expect(frozen.code, frozen.stderr).toBe(0);
    const frozenIndex = blob<Index>(out('frozen.tar'), json<Index>(out('frozen.tar'), 'index.json').manifests[0]!.digest);
    expect(frozenIndex.manifests.map((d) => d.platform?.architecture)).toEqual(['386', 'amd64']);

    const rootfs = await runDbco(['rootfs', recipe, '-o', out('r.tar'), '--cache', cache]);
    expect(rootfs.code).toBe(2);
    expect(rootfs.stderr.split('\n')[0]).toMatch(/^dbco: .*multi\.yaml: arch lists x86, x86_64: .*--platform linux\/386 or linux\/amd64$/);
    const disk = await runDbco(['image', recipe, '--disk', '--no-packer', '-o', out('d.raw'), '--cache', cache]);
    expect(disk.code).toBe(2);
    expect(disk.stderr).toMatch(/--platform linux\/386 or linux\/amd64/);
    const one = await runDbco(['rootfs', recipe, '--platform', 'linux/386', '-o', out('r.tar'), '--cache', cache]);
    expect(one.code, one.stderr).toBe(0);
    expect(execFileSync('tar', ['-tf', out('r.tar')]).toString()).toMatch(/^bin\/busybox$/m);
    const bad = await runDbco(['rootfs', recipe, '--platform', 'linux/arm64', '-o', out('r.tar'), '--cache', cache]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe('dbco: --platform linux/arm64: expected linux/386 or linux/amd64');
  }, 120_000);
});
