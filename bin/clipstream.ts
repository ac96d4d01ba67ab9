/**
 * The `clipstream` command line. Each subcommand lives in bin/commands/<name>.ts and exports
 * `register(program)`; this file only wires them and turns errors into clean exits.
 */
import { Command } from 'commander';
import { ClipstreamError } from '../shared/errors.ts';
import * as demoCommand from './commands/demo.ts';
import * as configCommand from './commands/config.ts';
import * as ingestCommand from './commands/ingest.ts';
import * as syncCommand from './commands/sync.ts';
import * as rebuildCommand from './commands/rebuild.ts';
import * as scheduleCommand from './commands/schedule.ts';
import * as schedulerCommand from './commands/scheduler.ts';
import * as workerCommand from './commands/worker.ts';
import * as statusCommand from './commands/status.ts';
import * as encodeCommand from './commands/encode.ts';
import * as calibrateCommand from './commands/calibrate.ts';
import * as modelCommand from './commands/model.ts';
import * as storeCommand from './commands/store.ts';
import * as serveCommand from './commands/serve.ts';
import * as searchCommand from './commands/search.ts';
import * as doctorCommand from './commands/doctor.ts';
import * as evalCommand from './commands/eval.ts';

const program = new Command()
  .name('clipstream')
  .description('Multilingual, multimodal catalogue search with jina-clip-v2 and Qdrant')
  .version('0.1.0')
  .showHelpAfterError();

for (const command of [demoCommand, configCommand, ingestCommand, syncCommand, rebuildCommand, scheduleCommand, schedulerCommand, workerCommand, statusCommand, encodeCommand, calibrateCommand, modelCommand, storeCommand, serveCommand, searchCommand, doctorCommand, evalCommand]) command.register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ClipstreamError) {
    process.stderr.write(`clipstream: ${err.message} [${err.code}]\n`);
    process.exitCode = 2;
  } else {
    throw err;
  }
}
