export * from './format.ts';
export * from './rate.ts';
export * from './reporter.ts';
