/**
 * The CLI reads the fleet's runner token from RUNNER_FLEET_RUNNER_TOKEN. A
 * project may keep it in a CI variable of another name (the components'
 * runner_token_variable input); RUNNER_FLEET_RUNNER_TOKEN_VARIABLE names that
 * variable, and its value, when set, takes the place of
 * RUNNER_FLEET_RUNNER_TOKEN for the whole run.
 */

export const RUNNER_TOKEN_ENV = 'RUNNER_FLEET_RUNNER_TOKEN';
export const RUNNER_TOKEN_VARIABLE_ENV = 'RUNNER_FLEET_RUNNER_TOKEN_VARIABLE';

/** The variable RUNNER_FLEET_RUNNER_TOKEN_VARIABLE names and its value; undefined when it names none or an empty one. */
export function namedRunnerToken(env: NodeJS.ProcessEnv): { name: string; value: string } | undefined {
  const name = env[RUNNER_TOKEN_VARIABLE_ENV]?.trim() ?? '';
  if (name === '' || name === RUNNER_TOKEN_ENV) return undefined;
  const value = env[name];
  return value ? { name, value } : undefined;
}

/** Copies the named variable's token into RUNNER_FLEET_RUNNER_TOKEN; an empty or unset one leaves it as it is. */
export function adoptNamedRunnerToken(env: NodeJS.ProcessEnv): void {
  const named = namedRunnerToken(env);
  if (named) env[RUNNER_TOKEN_ENV] = named.value;
}
