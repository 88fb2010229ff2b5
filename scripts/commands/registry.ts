/**
 * The commands the CLI knows: name and one-line summary for `--help`, and the
 * module that implements it, imported only when that command runs. `--help`
 * therefore loads no command module and no AWS SDK. Adding a command is one
 * entry here; its module exports a CommandSpec (flags, usage, run).
 */
import type { CommandSpec } from './command-spec.ts';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CommandSpec>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'deploy',
    summary: 'create or update the fleet stack through a change set and follow it to the end',
    load: () => import('./deploy-command.ts').then((module) => module.deployCommand),
  },
  {
    name: 'preview',
    summary: 'show what a deploy would change (change set), as Markdown, a Terraform report and an MR note',
    load: () => import('./preview-command.ts').then((module) => module.previewCommand),
  },
  {
    name: 'roll',
    summary: 'roll the fleet onto the latest AMI and runner release with an instance refresh',
    load: () => import('./roll-command.ts').then((module) => module.rollCommand),
  },
  {
    name: 'smoke-test',
    summary: "check that the fleet's instances are in service and their runners online in GitLab",
    load: () => import('./smoke-test-command.ts').then((module) => module.smokeTestCommand),
  },
  {
    name: 'status',
    summary: 'show the stack, the group, each instance and (with a token) its runner manager',
    load: () => import('./status-command.ts').then((module) => module.statusCommand),
  },
  {
    name: 'destroy',
    summary: 'delete the fleet stack, wait for it, and remove runner managers left behind',
    load: () => import('./destroy-command.ts').then((module) => module.destroyCommand),
  },
  {
    name: 'create-runner',
    summary: "create the fleet's GitLab runner (or update its settings) and store its token in SSM",
    load: () => import('./create-runner-command.ts').then((module) => module.createRunnerCommand),
  },
  {
    name: 'rotate-token',
    summary: "reset the fleet's runner token in GitLab and store the new one in SSM",
    load: () => import('./rotate-token-command.ts').then((module) => module.rotateTokenCommand),
  },
  {
    name: 'reconcile',
    summary:
      'remove runner managers of instances that are gone; report (or replace) instances whose runner is offline',
    load: () => import('./reconcile-command.ts').then((module) => module.reconcileCommand),
  },
];
