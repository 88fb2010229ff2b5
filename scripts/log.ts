/**
 * Progress output. Plain append-only lines on stdout so they read the same in a
 * terminal and in a CI log; GitLab collapsible sections when GITLAB_CI is set.
 * Callers pass only values safe to print; as a last gate every line goes
 * through redactSecrets, since AWS and GitLab messages are passed on as they come.
 */
import { redactSecrets } from './secrets.ts';

export interface Logger {
  info(line: string): void;
  warn(line: string): void;
  error(line: string): void;
  /** Opens a collapsible section in GitLab CI; a plain header line elsewhere. */
  section<T>(
    name: string,
    header: string,
    body: () => Promise<T>,
    options?: { collapsed?: boolean },
  ): Promise<T>;
}

export interface LoggerOptions {
  write?: (text: string) => void;
  writeError?: (text: string) => void;
  gitlabSections?: boolean;
  now?: () => Date;
  /** Secret values known to this run (tokens from the environment), masked wherever they appear. */
  knownSecrets?: readonly string[];
}

const ESC = '\u001b';

export function createLogger(options: LoggerOptions = {}): Logger {
  const writeOut = options.write ?? ((text: string) => process.stdout.write(text));
  const writeErr = options.writeError ?? ((text: string) => process.stderr.write(text));
  const gitlabSections = options.gitlabSections ?? process.env.GITLAB_CI === 'true';
  const now = options.now ?? (() => new Date());
  const known = options.knownSecrets ?? [];
  const write = (text: string) => writeOut(redactSecrets(text, known));
  const writeError = (text: string) => writeErr(redactSecrets(text, known));
  let sectionCounter = 0;

  return {
    info: (line) => write(`${line}\n`),
    warn: (line) => writeError(`warning: ${line}\n`),
    error: (line) => writeError(`error: ${line}\n`),
    async section(name, header, body, sectionOptions = {}) {
      if (!gitlabSections) {
        write(`--- ${header}\n`);
        return body();
      }
      // Section names must be unique within a job log and use [a-z0-9_.-].
      sectionCounter += 1;
      const id = `${name.toLowerCase().replace(/[^a-z0-9_.-]+/g, '_')}_${sectionCounter}`;
      const collapsed = sectionOptions.collapsed ? '[collapsed=true]' : '';
      const start = Math.floor(now().getTime() / 1000);
      write(`${ESC}[0Ksection_start:${start}:${id}${collapsed}\r${ESC}[0K${header}\n`);
      try {
        return await body();
      } finally {
        const end = Math.floor(now().getTime() / 1000);
        write(`${ESC}[0Ksection_end:${end}:${id}\r${ESC}[0K\n`);
      }
    },
  };
}
