import type { Command } from 'commander';

/** Placeholder until this command lands. */
export function registerImage(_program: Command): void {}
