import type { Command } from 'commander';

/** Placeholder until this command lands. */
export function registerSources(_program: Command): void {}
