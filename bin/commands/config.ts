import type { Command } from 'commander';
import { config, CONFIG_VARIABLES } from '../../shared/config/index.ts';

/**
 * Keys whose values are secrets: API keys, tokens (HF_TOKEN), secret access keys, passwords. The
 * word must end the key, so a limit such as `textMaxTokens` is printed as it is.
 */
const SECRET_KEY = /(?:api_?key|token|secret|secret_?access_?key|password|passphrase|credentials?)$/i;

/** `scheme://user:password@host` with the password (or a lone user-info token) replaced by `***`. */
function redactUrl(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@]*)@/i, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***'}@`;
  });
}

/** The configuration as `clipstream config` prints it: secrets and URL passwords masked, everything else shown. */
export function redactConfig(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) => {
      if (typeof v !== 'string' || v === '') return v;
      if (SECRET_KEY.test(key)) return '***';
      return redactUrl(v);
    }),
  );
}

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
      process.stdout.write(JSON.stringify(redactConfig(config()), null, 2) + '\n');
    });
}
