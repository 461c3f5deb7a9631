/**
 * Every failure a user can cause is a DbcoError with a stable code, so the CLI can print one clear line
 * and exit non-zero, and tests can assert on the kind of failure rather than on wording.
 */
export class DbcoError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An archive (squashfs, cpio, tar, ISO) is malformed, truncated, or uses a feature dbco refuses. */
export class FormatError extends DbcoError {
  constructor(
    readonly format: 'squashfs' | 'cpio' | 'tar' | 'gzip' | 'iso9660' | 'ext' | 'disk',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`FORMAT_${format.toUpperCase()}`, `${format}: ${message}`, options);
  }
}

/** An archive names a path that would escape its root (absolute, `..`, NUL, empty). */
export class UnsafePathError extends DbcoError {
  constructor(readonly path: string, reason: string) {
    super('UNSAFE_PATH', `unsafe path ${JSON.stringify(path)}: ${reason}`);
  }
}

/** A recipe field is missing, of the wrong type, or has a bad value. `where` is file:line:column. */
export class RecipeError extends DbcoError {
  constructor(readonly where: string, readonly field: string, readonly detail: string) {
    super('RECIPE', `${where}: ${field}: ${detail}`);
  }
}

/** Fetching from a mirror failed for good (after retries), or a digest did not match. */
export class FetchError extends DbcoError {
  constructor(readonly url: string, message: string, options?: { cause?: unknown }) {
    super('FETCH', `${url}: ${message}`, options);
  }
}

export class DigestMismatchError extends DbcoError {
  constructor(readonly url: string, readonly algorithm: 'md5' | 'sha256', readonly expected: string, readonly actual: string) {
    super('DIGEST_MISMATCH', `${url}: ${algorithm} mismatch: expected ${expected}, got ${actual}`);
  }
}

/** Dependency resolution failed: a missing extension, or an unknown KERNEL. `chain` is leaf first. */
export class ResolveError extends DbcoError {
  constructor(readonly chain: string[], message: string) {
    super('RESOLVE', `${message}: ${chain.join(' <- ')}`);
  }
}

/** --offline or --frozen could not be honoured. */
export class OfflineError extends DbcoError {
  constructor(message: string) {
    super('OFFLINE', message);
  }
}

/** Docker engine unreachable or refused an operation. */
export class DockerError extends DbcoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DOCKER', message, options);
  }
}

/** An external tool (packer, qemu, mke2fs, grub) is missing or failed. */
export class ToolError extends DbcoError {
  constructor(readonly tool: string, message: string, options?: { cause?: unknown }) {
    super('TOOL', `${tool}: ${message}`, options);
  }
}

/** A mistake in how dbco was called (exit 2), as opposed to a failed build (exit 1). */
export class UsageError extends DbcoError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** A registry refused or failed a push, pull or login: names the registry, the repository and the HTTP status. */
export class RegistryError extends DbcoError {
  constructor(readonly registry: string, readonly repository: string | undefined, readonly status: number | undefined, message: string, options?: { cause?: unknown }) {
    super('REGISTRY', `${registry}${repository ? `/${repository}` : ''}: ${status ? `HTTP ${status}: ` : ''}${message}`, options);
  }
}
