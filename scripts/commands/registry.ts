/**
 * The commands the CLI knows. cli.ts dispatches over this list; each command
 * module owns its flags, help text and wiring.
 */
import type { CommandSpec } from './command-spec.ts';
import { createRunnerCommand } from './create-runner-command.ts';
import { deployCommand } from './deploy-command.ts';
import { destroyCommand } from './destroy-command.ts';
import { previewCommand } from './preview-command.ts';
import { reconcileCommand } from './reconcile-command.ts';
import { rollCommand } from './roll-command.ts';
import { rotateTokenCommand } from './rotate-token-command.ts';
import { smokeTestCommand } from './smoke-test-command.ts';
import { statusCommand } from './status-command.ts';

export {
  asString,
  type CommandContext,
  type CommandSpec,
  type FlagValues,
  regionOption,
} from './command-spec.ts';

export const COMMANDS: readonly CommandSpec[] = [
  deployCommand,
  previewCommand,
  rollCommand,
  smokeTestCommand,
  statusCommand,
  destroyCommand,
  createRunnerCommand,
  rotateTokenCommand,
  reconcileCommand,
];
