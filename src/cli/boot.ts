import type { Command } from 'commander';

/** Placeholder until this command lands. */
export function registerBoot(_program: Command): void {}
