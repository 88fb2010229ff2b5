/**
 * The runner's settings as the consumer's repository states them: a YAML file
 * (runner.yml) in GitLab's field names, with flags on top. Every problem is
 * collected so one run lists them all (exit 2). The flags' allowed values
 * (runner type, access level, true|false) are declared in create-runner's
 * input schema, which reports a bad one; the same values are checked here for
 * the file.
 */
import { readFile } from 'node:fs/promises';
import { load } from 'js-yaml';
import { oneOfProblem } from '../cli-input/checks.ts';
import { InputError } from '../errors.ts';
import {
  ACCESS_LEVELS,
  type AccessLevel,
  RUNNER_TYPES,
  type RunnerSettings,
  type RunnerType,
} from '../gitlab/runner-admin.ts';

/** Keys of the settings file; the same names as the GitLab API fields they set. */
const FILE_KEYS = [
  'runner_type',
  'group',
  'project',
  'description',
  'tag_list',
  'run_untagged',
  'locked',
  'paused',
  'maximum_timeout',
  'access_level',
  'maintenance_note',
] as const;

/** GitLab refuses a maximum timeout under ten minutes. */
const MIN_MAXIMUM_TIMEOUT = 600;
/** GitLab's limits on tag names: 255 characters, no commas (they separate tags). */
const TAG = /^[^,]{1,255}$/;

type RawSettings = Partial<Record<(typeof FILE_KEYS)[number], unknown>>;

/**
 * The settings flags of create-runner as its input schema read them: text,
 * checked here together with the file. A value outside the allowed ones was
 * reported by the schema already; here it only keeps settings from being made.
 */
export interface RunnerSettingsFlags {
  settings?: string | undefined;
  'runner-type'?: string | undefined;
  group?: string | undefined;
  project?: string | undefined;
  description?: string | undefined;
  tag?: string[] | undefined;
  'run-untagged'?: string | undefined;
  locked?: string | undefined;
  paused?: string | undefined;
  'maximum-timeout'?: string | undefined;
  'access-level'?: string | undefined;
  'maintenance-note'?: string | undefined;
}

export async function loadRunnerSettings(flags: RunnerSettingsFlags): Promise<RunnerSettings> {
  const problems: string[] = [];
  const file = flags.settings;
  const raw: RawSettings = file ? await readSettingsFile(file, problems) : {};
  const fromFlags = flagSettings(flags);
  const merged: RawSettings = { ...raw, ...fromFlags };
  const where = (key: string) =>
    key in fromFlags ? `--${key.replaceAll('_', '-')}` : `${key} in ${file ?? 'the settings'}`;
  const notAllowed = (key: keyof RawSettings, allowed: readonly string[]) => {
    const problem = merged[key] === undefined ? undefined : oneOfProblem(merged[key], allowed, where(key));
    // A flag's value outside the allowed ones is the input schema's problem line, not a second one here.
    if (problem && !(key in fromFlags)) problems.push(problem);
    return problem !== undefined;
  };
  const settings = validate(merged, where, notAllowed, problems);
  if (problems.length > 0 || !settings) throw new InputError(problems);
  return settings;
}

async function readSettingsFile(file: string, problems: string[]): Promise<RawSettings> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    problems.push(`cannot read --settings ${file}: no such file or not readable`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = load(text);
  } catch (error) {
    problems.push(`--settings ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
    return {};
  }
  if (parsed === undefined || parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`--settings ${file} must be a YAML map of runner settings (runner_type: group_type, ...)`);
    return {};
  }
  const unknown = Object.keys(parsed).filter((key) => !(FILE_KEYS as readonly string[]).includes(key));
  for (const key of unknown) {
    problems.push(`unknown setting ${key} in ${file}: expected one of ${FILE_KEYS.join(', ')}`);
  }
  return parsed as RawSettings;
}

function flagSettings(flags: RunnerSettingsFlags): RawSettings {
  const out: RawSettings = {};
  const text = (flag: Exclude<keyof RunnerSettingsFlags, 'tag'>, key: keyof RawSettings) => {
    const value = flags[flag];
    if (value !== undefined) out[key] = value;
  };
  text('runner-type', 'runner_type');
  text('group', 'group');
  text('project', 'project');
  text('description', 'description');
  text('run-untagged', 'run_untagged');
  text('locked', 'locked');
  text('paused', 'paused');
  text('maximum-timeout', 'maximum_timeout');
  text('access-level', 'access_level');
  text('maintenance-note', 'maintenance_note');
  // No --tag keeps the file's tag_list; there is no flag for "no tags".
  if (flags.tag?.length) out.tag_list = flags.tag;
  return out;
}

/** Whether a setting is outside its allowed values (and says so where nobody else has). */
type NotAllowed = (key: keyof RawSettings, allowed: readonly string[]) => boolean;

/** The text of a true|false setting, as a flag gives it. */
export const TRUE_OR_FALSE = ['true', 'false'] as const;

function validate(
  raw: RawSettings,
  where: (key: string) => string,
  notAllowed: NotAllowed,
  problems: string[],
): RunnerSettings | undefined {
  let refused = false;
  const runnerType = raw.runner_type;
  if (runnerType === undefined) {
    problems.push(
      `no runner_type: set it in the settings file or pass --runner-type (${RUNNER_TYPES.join(', ')})`,
    );
  } else if (notAllowed('runner_type', RUNNER_TYPES)) {
    refused = true;
  }
  const group = reference(raw, 'group', where, problems);
  const project = reference(raw, 'project', where, problems);
  if (runnerType === 'group_type' && group === undefined) {
    problems.push('runner_type group_type needs the group (its id or full path): set group or pass --group');
  }
  if (runnerType === 'project_type' && project === undefined) {
    problems.push(
      'runner_type project_type needs the project (id or full path): set project or pass --project',
    );
  }
  if (group !== undefined && runnerType !== 'group_type') {
    problems.push(`${where('group')} is only for runner_type group_type, not ${String(runnerType)}`);
  }
  if (project !== undefined && runnerType !== 'project_type') {
    problems.push(`${where('project')} is only for runner_type project_type, not ${String(runnerType)}`);
  }

  const settings: RunnerSettings = { runnerType: runnerType as RunnerType };
  if (group !== undefined) settings.group = group;
  if (project !== undefined) settings.project = project;
  const description = text(raw, 'description', where, problems);
  if (description !== undefined) settings.description = description;
  const note = text(raw, 'maintenance_note', where, problems);
  if (note !== undefined) settings.maintenanceNote = note;
  for (const [key, field] of [
    ['run_untagged', 'runUntagged'],
    ['locked', 'locked'],
    ['paused', 'paused'],
  ] as const) {
    // YAML gives true and false; a flag, or a quoted YAML value, their text.
    const value = raw[key];
    if (typeof value === 'boolean') settings[field] = value;
    else if (notAllowed(key, TRUE_OR_FALSE)) refused = true;
    else if (value !== undefined) settings[field] = value === 'true';
  }
  if (raw.tag_list !== undefined) {
    const list = Array.isArray(raw.tag_list) ? raw.tag_list : undefined;
    const bad = list?.filter((tag) => typeof tag !== 'string' || !TAG.test(tag));
    if (!list || (bad && bad.length > 0)) {
      problems.push(
        `invalid ${where('tag_list')}: expected a list of tag names without commas${bad?.length ? ` (bad: ${bad.map(String).join(' ')})` : ''}`,
      );
    } else settings.tagList = [...new Set(list as string[])];
  }
  if (raw.maximum_timeout !== undefined) {
    const value = Number(raw.maximum_timeout);
    if (!Number.isInteger(value) || value < MIN_MAXIMUM_TIMEOUT) {
      problems.push(
        `invalid ${where('maximum_timeout')} ${String(raw.maximum_timeout)}: expected whole seconds, at least ${MIN_MAXIMUM_TIMEOUT}`,
      );
    } else settings.maximumTimeout = value;
  }
  if (notAllowed('access_level', ACCESS_LEVELS)) refused = true;
  else if (raw.access_level !== undefined) settings.accessLevel = raw.access_level as AccessLevel;
  if (settings.runUntagged === false && settings.tagList?.length === 0) {
    problems.push('run_untagged false with an empty tag_list: the runner could never take a job');
  }
  return problems.length > 0 || refused ? undefined : settings;
}

function reference(
  raw: RawSettings,
  key: 'group' | 'project',
  where: (key: string) => string,
  problems: string[],
): string | undefined {
  const value = raw[key];
  if (value === undefined || value === null || value === '') return undefined;
  const textValue = String(value);
  if (!/^(\d+|[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*)$/.test(textValue)) {
    problems.push(
      `invalid ${where(key)} ${textValue}: expected a numeric id or a full path such as team/app`,
    );
    return undefined;
  }
  return textValue;
}

function text(
  raw: RawSettings,
  key: 'description' | 'maintenance_note',
  where: (key: string) => string,
  problems: string[],
): string | undefined {
  const value = raw[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    problems.push(`invalid ${where(key)}: expected text`);
    return undefined;
  }
  return value;
}
