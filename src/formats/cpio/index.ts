export type { StreamEntry } from '../stream-reader.js';
export { readCpio, indexCpio } from './read.js';
export { writeCpio } from './write.js';
export { isCpioMagic } from './newc.js';
