// Entry of the encoder thread (see thread.ts). Plain JS so it can register the
// TypeScript loader before importing the TypeScript module, whatever started the process.
import { register } from 'tsx/esm/api';

register();
await import('./thread-main.ts');
