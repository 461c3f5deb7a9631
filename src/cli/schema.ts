import type { Command } from 'commander';

/** Placeholder until this command lands. */
export function registerSchema(_program: Command): void {}
