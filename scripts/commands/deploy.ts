/**
 * `runner-fleet deploy`: deploys a template file to the fleet stack through
 * the stack module (scripts/stack/deploy-template.ts), then writes the
 * stack's outputs to the dotenv report when asked. Orchestration only.
 */
import { writeFile } from 'node:fs/promises';
import type { Output } from '@aws-sdk/client-cloudformation';
import type { LoadedTemplate } from '../config/template.ts';
import { withHint } from '../errors.ts';
import type { Logger } from '../log.ts';
import { renderOutputsDotenv } from '../render/dotenv.ts';
import {
  type DeployOutcome,
  type DeployRequest,
  deployTemplate,
  type StackDependencies,
  secretValuesOf,
} from '../stack/deploy-template.ts';

export type { DeployOutcome } from '../stack/deploy-template.ts';

export interface DeployOptions extends DeployRequest {
  outputsDotenv: string | undefined;
}

export type DeployDependencies = StackDependencies;

export async function deploy(options: DeployOptions, deps: DeployDependencies): Promise<DeployOutcome> {
  const { outcome, stack, parameters } = await deployTemplate(options, deps);
  if (options.outputsDotenv) {
    await writeOutputsDotenv(
      options.outputsDotenv,
      stack?.Outputs ?? [],
      secretValuesOf(parameters),
      options.template,
      deps.log,
    ).catch((error: unknown) => {
      if (outcome === 'no-changes') throw error;
      throw withHint(
        error,
        `stack ${options.stackName} is ${stack?.StackStatus}; only the outputs were not written`,
      );
    });
  }
  return outcome;
}

async function writeOutputsDotenv(
  path: string,
  outputs: readonly Output[],
  secretValues: readonly string[],
  template: LoadedTemplate,
  log: Logger,
): Promise<void> {
  const dotenv = renderOutputsDotenv(outputs, secretValues, template.noEchoOutputs);
  for (const skipped of dotenv.skipped) {
    log.warn(`output ${skipped.key} left out of the dotenv report: ${skipped.why}`);
  }
  await writeFile(path, dotenv.text, { mode: 0o644 });
  log.info(`Wrote ${dotenv.written.length} output(s) to ${path}`);
}
