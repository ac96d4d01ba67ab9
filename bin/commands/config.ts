import type { Command } from 'commander';
import { config, CONFIG_VARIABLES } from '../../shared/config/index.ts';

export function register(program: Command): void {
  program
    .command('config')
    .description('print the resolved configuration (validates the environment)')
    .option('--vars', 'list the environment variables clipstream reads')
    .action((opts: { vars?: boolean }) => {
      if (opts.vars) {
        process.stdout.write(CONFIG_VARIABLES.join('\n') + '\n');
        return;
      }
      const c = config();
      const redacted = JSON.parse(JSON.stringify(c, (k, v) => (/token|apiKey/i.test(k) && v ? '***' : v)));
      process.stdout.write(JSON.stringify(redacted, null, 2) + '\n');
    });
}
