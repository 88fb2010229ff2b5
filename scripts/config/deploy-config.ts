/**
 * Reads and checks the template, parameters and tags that `deploy` and
 * `preview` take. Every problem is collected and reported at once, so one
 * run shows all that is wrong.
 */
import { region, stackName } from '../cli-input/common-flags.ts';
import type { FlagValuesOf } from '../cli-input/schema.ts';
import { collectInputProblems, InputError } from '../errors.ts';
import { parseKeyValuePairs, readParameterFile } from './parameters.ts';
import { checkRunnerSettings } from './runner-settings.ts';
import { NO_PRESET, presetFile, shippedTemplate } from './shipped-files.ts';
import { checkGivenParameters } from './stack-parameters.ts';
import { type LoadedTemplate, loadTemplate } from './template.ts';

/** The flags of the commands that take a template and its inputs (deploy, preview). */
export const stackInputFlags = {
  'stack-name': stackName,
  'template-file': {
    type: 'text',
    placeholder: 'FILE',
    env: ['RUNNER_FLEET_TEMPLATE_FILE'],
    help: 'template (YAML or JSON); required unless RUNNER_FLEET_HOME is set (the image), whose cfn/runner-fleet.yaml is then the template',
  },
  preset: {
    type: 'text',
    placeholder: 'NAME',
    env: ['RUNNER_FLEET_PRESET'],
    help: `parameter preset shipped with runner-fleet (cfn/presets/NAME.yaml), applied before --parameters files; ${NO_PRESET} = no preset`,
  },
  parameters: {
    type: 'texts',
    placeholder: 'FILE',
    env: ['RUNNER_FLEET_PARAMETERS_FILE'],
    help: 'parameter file: YAML/JSON map {Key: value} or AWS CLI list [{ParameterKey, ParameterValue}]; later files win',
  },
  parameter: {
    type: 'texts',
    placeholder: 'KEY=VALUE',
    env: ['RUNNER_FLEET_PARAMETERS'],
    help: 'one parameter value; overrides files',
  },
  tag: {
    type: 'texts',
    placeholder: 'KEY=VALUE',
    env: ['RUNNER_FLEET_STACK_TAGS'],
    help: 'stack tag, propagated to resources',
  },
  region,
} as const;

export type StackInputFlags = FlagValuesOf<typeof stackInputFlags>;

export interface StackInputs {
  stackName: string;
  template: LoadedTemplate;
  parameterValues: Map<string, string>;
  tags: Map<string, string>;
}

/**
 * The template and the values for it; the flags themselves are checked by the
 * command's schema. `env` gives RUNNER_FLEET_HOME, where the shipped template
 * and presets are.
 */
export async function loadStackInputs(
  flags: StackInputFlags,
  env: NodeJS.ProcessEnv,
  given: ReadonlySet<string>,
): Promise<StackInputs> {
  const problems: string[] = [];
  const templateFile = flags['template-file'] || shippedTemplate(env);
  // Given without its value, the flag comes as undefined and the schema has already said so.
  const reportedBySchema = given.has('template-file') && flags['template-file'] === undefined;
  if (!templateFile && !reportedBySchema) problems.push('missing --template-file FILE');
  const template = templateFile
    ? await collectInputProblems(loadTemplate(templateFile), problems)
    : undefined;

  const parameterFiles = [...flags.parameters];
  const preset = flags.preset;
  if (preset && preset !== NO_PRESET) {
    const shipped = presetFile(preset, env);
    if ('problem' in shipped) problems.push(shipped.problem);
    else parameterFiles.unshift(shipped.file);
  }
  const parameterValues = new Map<string, string>();
  for (const file of parameterFiles) {
    const fromFile = await readParameterFile(file);
    problems.push(...fromFile.problems);
    for (const [key, value] of fromFile.values) parameterValues.set(key, value);
  }
  const fromFlags = parseKeyValuePairs('--parameter', flags.parameter);
  problems.push(...fromFlags.problems);
  for (const [key, value] of fromFlags.values) parameterValues.set(key, value);

  const tagPairs = parseKeyValuePairs('--tag', flags.tag);
  problems.push(...tagPairs.problems);

  if (template) problems.push(...checkGivenParameters(template.parameters, parameterValues));
  problems.push(...checkRunnerSettings(parameterValues));

  if (problems.length > 0 || !template) throw new InputError(problems);
  return { stackName: flags['stack-name'], template, parameterValues, tags: tagPairs.values };
}
