/**
 * The CloudFormation template and parameter presets runner-fleet ships
 * (cfn/runner-fleet.yaml, cfn/presets/*.yaml). The image sets
 * RUNNER_FLEET_HOME to where they are; run from a checkout or an npm
 * install, they sit beside the code.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HOME_ENV = 'RUNNER_FLEET_HOME';
/** The preset name that means "no preset" (the components' default). */
export const NO_PRESET = 'none';

/** RUNNER_FLEET_HOME when set, else the nearest folder above this code that holds cfn/presets. */
export function shippedHome(env: NodeJS.ProcessEnv): string | undefined {
  const home = env[HOME_ENV]?.trim();
  if (home) return home;
  // From a checkout this file is scripts/config/, in the bundle dist/: a few levels at most.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < 4; level++) {
    if (existsSync(join(dir, 'cfn', 'presets'))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

/** The shipped fleet template, used when no --template-file is given and RUNNER_FLEET_HOME is set (the image). */
export function shippedTemplate(env: NodeJS.ProcessEnv): string | undefined {
  const home = env[HOME_ENV]?.trim();
  return home ? join(home, 'cfn', 'runner-fleet.yaml') : undefined;
}

/** The names of the shipped presets, sorted. */
export function presetNames(home: string): string[] {
  try {
    return readdirSync(join(home, 'cfn', 'presets'))
      .filter((file) => file.endsWith('.yaml'))
      .map((file) => file.replace(/\.yaml$/, ''))
      .sort();
  } catch {
    return [];
  }
}

/** The file of a shipped preset, or the problem line that lists the names there are. */
export function presetFile(name: string, env: NodeJS.ProcessEnv): { file: string } | { problem: string } {
  const home = shippedHome(env);
  const names = home ? presetNames(home) : [];
  if (home && names.includes(name)) return { file: join(home, 'cfn', 'presets', `${name}.yaml`) };
  return {
    problem:
      names.length > 0
        ? `unknown --preset ${name}: use one of ${[NO_PRESET, ...names].join(', ')}`
        : `--preset ${name}: no shipped presets found (set ${HOME_ENV} to the folder that holds cfn/presets)`,
  };
}
