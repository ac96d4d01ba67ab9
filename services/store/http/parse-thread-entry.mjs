// Entry of a parse thread (see parse-pool.ts). Plain JS so it can register the TypeScript
// loader before importing the TypeScript module, whatever started the process.
import { register } from 'tsx/esm/api';

register();
await import('./parse-thread.ts');
