import type { Command } from 'commander';

/** Placeholder until this command lands. */
export function registerLs(_program: Command): void {}
