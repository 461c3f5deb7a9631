export type { StreamEntry } from '../stream-reader.js';
export { readTar } from './read.js';
export { writeTar, writeTarInOrder, type TarOptions } from './write.js';
