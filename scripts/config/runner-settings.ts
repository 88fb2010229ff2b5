/**
 * The extra gitlab-runner settings a fleet may carry (stack parameters
 * RunnerExtraSettings and RunnerDockerExtraSettings, JSON objects the
 * instances write into config.toml), checked before any AWS call: every key
 * must be a setting of gitlab-runner's config structs
 * (runner-config-keys.ts, generated from the runner's source) with a value of
 * the right shape, and keys the stack itself sets are refused with the
 * parameter to use instead. All problems are returned at once.
 */
import { isRecord } from './records.ts';
import { RUNNER_CONFIG_STRUCTS } from './runner-config-keys.ts';

/** Parameter -> the runner struct its keys belong to, and the TOML table it lands in. */
export const RUNNER_SETTINGS_PARAMETERS: Readonly<Record<string, { struct: string; table: string }>> = {
  RunnerExtraSettings: { struct: 'RunnerConfig', table: '[[runners]]' },
  RunnerDockerExtraSettings: { struct: 'DockerConfig', table: '[runners.docker]' },
};

const EXECUTOR_TABLE = 'a table of an executor runner-fleet does not run';

/** Keys the stack or the bootstrap owns, with what to use instead. */
const MANAGED_KEYS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  RunnerConfig: {
    name: 'the bootstrap names each runner manager <stack>-<instance id>',
    url: 'use the GitLabUrl parameter',
    token: 'the token comes from RunnerTokenParameterName or RunnerTokenSecretName, never a parameter value',
    id: 'set by gitlab-runner register',
    token_obtained_at: 'set by gitlab-runner register',
    token_expires_at: 'set by gitlab-runner register',
    executor: 'use RunnerExecutor, or FleetMode docker-autoscaler',
    cache: "the stack's shared cache (CacheBucketMode)",
    docker: 'use RunnerDockerExtraSettings',
    autoscaler: 'set by FleetMode docker-autoscaler from the Worker* parameters',
    instance: EXECUTOR_TABLE,
    ssh: EXECUTOR_TABLE,
    parallels: EXECUTOR_TABLE,
    virtualbox: EXECUTOR_TABLE,
    machine: EXECUTOR_TABLE,
    kubernetes: EXECUTOR_TABLE,
    custom: EXECUTOR_TABLE,
  },
  DockerConfig: {
    image: 'use the RunnerDefaultDockerImage parameter',
    host: 'the executor connects to the local Docker (or, with docker-autoscaler, the worker) itself',
  },
};

/** Go's time.ParseDuration syntax, as in "30m" or "1h30m0s". */
const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

export function checkRunnerSettings(values: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const [parameter, { struct, table }] of Object.entries(RUNNER_SETTINGS_PARAMETERS)) {
    const raw = values.get(parameter);
    if (raw === undefined || raw.trim() === '') continue;
    let settings: unknown;
    try {
      settings = JSON.parse(raw);
    } catch (error) {
      problems.push(
        `parameter ${parameter} is not valid JSON (${(error as Error).message}): give a JSON object`,
      );
      continue;
    }
    if (!isRecord(settings)) {
      problems.push(
        `parameter ${parameter} must be a JSON object of ${table} settings, such as {"key": value}`,
      );
      continue;
    }
    for (const [key, reason] of Object.entries(MANAGED_KEYS[struct] ?? {})) {
      if (Object.hasOwn(settings, key)) {
        problems.push(`parameter ${parameter}: ${key} is set by runner-fleet, not here: ${reason}`);
      }
    }
    const unmanaged = Object.fromEntries(
      Object.entries(settings).filter(([key]) => !Object.hasOwn(MANAGED_KEYS[struct] ?? {}, key)),
    );
    problems.push(...checkStruct(parameter, table, struct, unmanaged));
  }
  return problems;
}

function checkStruct(
  parameter: string,
  where: string,
  struct: string,
  value: Record<string, unknown>,
): string[] {
  const fields = RUNNER_CONFIG_STRUCTS[struct] ?? {};
  const problems: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    const kind = fields[key];
    if (kind === undefined) {
      const suggestion = closest(key, Object.keys(fields));
      problems.push(
        `parameter ${parameter}: unknown key ${key} in ${where}: not a gitlab-runner setting${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
      );
      continue;
    }
    const nestedWhere = `${where}.${key}`;
    const problem = shapeProblem(kind, item);
    if (problem) {
      problems.push(`parameter ${parameter}: ${nestedWhere} ${problem}`);
      continue;
    }
    const nested = /^(tables?):(.+)$/.exec(kind);
    if (!nested) continue;
    const [, many, name] = nested as unknown as [string, string, string];
    const items = many === 'tables' ? (item as unknown[]) : [item];
    items.forEach((entry, index) => {
      const entryWhere = many === 'tables' ? `${nestedWhere}[${index}]` : nestedWhere;
      problems.push(...checkStruct(parameter, entryWhere, name, entry as Record<string, unknown>));
    });
  }
  return problems;
}

/** Why a value does not fit the field's kind, or undefined when it does. */
function shapeProblem(kind: string, value: unknown): string | undefined {
  if (value === null) return 'is null: leave the key out instead';
  const scalarList = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? undefined : 'must be a string';
    case 'boolean':
      return typeof value === 'boolean' ? undefined : 'must be true or false';
    case 'integer':
      return Number.isInteger(value) ? undefined : 'must be a whole number';
    case 'number':
      return typeof value === 'number' ? undefined : 'must be a number';
    case 'duration':
      return typeof value === 'string' && GO_DURATION.test(value)
        ? undefined
        : 'must be a duration such as "30m" or "1h30m"';
    case 'list':
      return scalarList(value) ? undefined : 'must be a list of strings';
    case 'string-or-list':
      return typeof value === 'string' || scalarList(value)
        ? undefined
        : 'must be a string or a list of strings';
    case 'map':
      return isRecord(value) ? undefined : 'must be an object';
    case 'any':
      return undefined;
    default:
      if (kind.startsWith('tables:')) {
        return Array.isArray(value) && value.every(isRecord) ? undefined : 'must be a list of objects';
      }
      return isRecord(value) ? undefined : 'must be an object';
  }
}

/** The known key nearest to a misspelt one (at most two edits), if any. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
