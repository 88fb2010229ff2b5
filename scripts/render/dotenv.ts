/**
 * Stack outputs as a GitLab dotenv report: KEY=value lines, one per output.
 * GitLab rejects multi-line values and reports over 5 KB, and the report is
 * readable by anyone who can read the pipeline, so secrets never go in.
 */
import type { Output } from '@aws-sdk/client-cloudformation';
import { isSecret } from '../secrets.ts';

const DOTENV_LIMIT_BYTES = 5 * 1024;

export interface DotenvResult {
  text: string;
  written: string[];
  skipped: { key: string; why: string }[];
}

export function renderOutputsDotenv(
  outputs: readonly Output[],
  secretValues: readonly string[] = [],
  /** Outputs that echo a NoEcho parameter, by output key: left out whatever their value. */
  secretOutputs: ReadonlySet<string> = new Set(),
): DotenvResult {
  const written: string[] = [];
  const skipped: { key: string; why: string }[] = [];
  const lines: string[] = [];
  let size = 0;
  for (const output of outputs) {
    const key = (output.OutputKey ?? '').replace(/[^A-Za-z0-9_]/g, '_');
    const value = output.OutputValue ?? '';
    if (!key) continue;
    if (secretOutputs.has(output.OutputKey ?? '')) {
      skipped.push({ key, why: 'it echoes a NoEcho parameter' });
      continue;
    }
    if (isSecret(key, value) || secretValues.some((secret) => secret.length > 0 && value.includes(secret))) {
      skipped.push({ key, why: 'its name or value looks secret' });
      continue;
    }
    if (/[\r\n]/.test(value)) {
      skipped.push({ key, why: 'multi-line values are not allowed in dotenv reports' });
      continue;
    }
    const line = `${key}=${value}`;
    const lineBytes = Buffer.byteLength(line, 'utf8') + 1;
    if (size + lineBytes > DOTENV_LIMIT_BYTES) {
      skipped.push({ key, why: 'the report would pass GitLab’s 5 KB limit' });
      continue;
    }
    size += lineBytes;
    lines.push(line);
    written.push(key);
  }
  return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '', written, skipped };
}
