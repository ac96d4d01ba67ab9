// Entry of the ANN optimiser thread (see optimizer.ts). Plain JS so it can register the
// TypeScript loader before importing the TypeScript module, whatever started the process.
import { register } from 'tsx/esm/api';

register();
await import('./optimizer-thread.ts');
