import { FormatError } from '../../errors.js';

export function squashError(message: string, cause?: unknown): FormatError {
  return new FormatError('squashfs', message, cause === undefined ? undefined : { cause });
}
