/**
 * A real logger (scripts/log.ts, so secrets are masked as in production)
 * whose lines go into arrays instead of stdout and stderr. Pass one array
 * for both to keep the order of the two streams; GitLab sections are off.
 */
import { createLogger, type Logger, type LoggerOptions } from '../../scripts/log.ts';

export function captureLog(
  stdout: string[],
  stderr: string[] = stdout,
  options: Omit<LoggerOptions, 'write' | 'writeError'> = {},
): Logger {
  return createLogger({
    gitlabSections: false,
    ...options,
    write: (text) => stdout.push(text),
    writeError: (text) => stderr.push(text),
  });
}
