/**
 * Inputs and wiring of `runner-fleet preview`; the work is in preview.ts.
 * Every input problem, GitLab settings included, is reported at once before
 * any AWS or GitLab call.
 */
import { awsSetupProblems, cloudFormationClient } from '../aws/clients.ts';
import { gitlabUrl } from '../cli-input/common-flags.ts';
import { loadStackInputs, stackInputFlags } from '../config/deploy-config.ts';
import { gitlabApiUrl, gitlabTokenFromEnv } from '../config/gitlab-access.ts';
import { collectInputProblems, InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import { defineCommand, regionOption } from './command-spec.ts';
import { type PreviewOptions, preview } from './preview.ts';

/** A switch of the preview gate, also on from the preview component's input or a pipeline variable. */
function gateSwitch(help: string, env: readonly string[]) {
  return { type: 'switch', help, env } as const;
}

const MR_NOTE_ENV = 'RUNNER_FLEET_MR_NOTE';

/** The flags of preview, exported for the tests of what the preview component sets. */
export const previewFlags = {
  ...stackInputFlags,
  'stack-name': {
    ...stackInputFlags['stack-name'],
    help: 'CloudFormation stack to preview a create or update of',
  },
  parameters: { ...stackInputFlags.parameters, help: 'parameter file (as for deploy); later files win' },
  tag: { ...stackInputFlags.tag, help: 'stack tag' },
  markdown: {
    type: 'text',
    placeholder: 'FILE',
    writes: true,
    help: 'write the Markdown report (also printed to the log)',
  },
  'terraform-report': {
    type: 'text',
    placeholder: 'FILE',
    writes: true,
    help: 'write {"create","update","delete"} counts for the GitLab MR widget (artifacts:reports:terraform); a replacement counts as one create and one delete, as gitlab-terraform does',
  },
  'keep-change-set': { type: 'switch', help: 'leave the change set for review instead of deleting it' },
  'mr-note': {
    type: 'switch',
    env: [MR_NOTE_ENV],
    help: `create or update this stack's note on the merge request; needs CI_API_V4_URL (or --gitlab-url), CI_PROJECT_ID, CI_MERGE_REQUEST_IID and RUNNER_FLEET_GITLAB_TOKEN. Turned on by ${MR_NOTE_ENV} instead, it is skipped outside a merge request pipeline or without the token`,
  },
  'gitlab-url': { ...gitlabUrl, help: 'GitLab instance' },
  'fail-on-replacement': gateSwitch(
    'exit 3 if the Auto Scaling Group would be replaced or removed (replacement True or Conditional)',
    ['RUNNER_FLEET_FAIL_ON_REPLACEMENT'],
  ),
  'fail-on-permissions': gateSwitch('exit 3 if IAM or resource policies would change', [
    'RUNNER_FLEET_FAIL_ON_PERMISSIONS',
  ]),
  'allow-replacement': gateSwitch('let a replacement through --fail-on-replacement', [
    'RUNNER_FLEET_ALLOW_REPLACEMENT',
    'RUNNER_FLEET_PREVIEW_ALLOW_REPLACEMENT',
  ]),
  'allow-permission-changes': gateSwitch('let a permission change through --fail-on-permissions', [
    'RUNNER_FLEET_ALLOW_PERMISSION_CHANGES',
    'RUNNER_FLEET_PREVIEW_ALLOW_PERMISSION_CHANGES',
  ]),
} as const;

export const previewCommand = defineCommand({
  name: 'preview',
  synopsis: 'runner-fleet preview --stack-name NAME --template-file FILE [options]',
  flags: previewFlags,
  environment: {
    RUNNER_FLEET_GITLAB_TOKEN: {
      help: 'for --mr-note: a project or group access token with api scope (CI_JOB_TOKEN cannot post notes)',
    },
  },
  notes: `The reports and the note are written before the gate decides. Parameters not
given keep their previous value; NoEcho values are never printed.`,
  async run({ flags, given, problems }, context) {
    const inputs = await collectInputProblems(loadStackInputs(flags, context.env, given), problems);
    let mergeRequest: PreviewOptions['mergeRequest'];
    if (flags['mr-note'] && (given.has('mr-note') || inMergeRequestWithToken(context.env))) {
      const settings = mergeRequestSettings(flags, context.env);
      if ('missing' in settings) problems.push(settings.missing);
      else mergeRequest = settings;
    }
    const cloudFormation = cloudFormationClient(regionOption(flags.region));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0 || !inputs) throw new InputError(problems);

    await preview(
      {
        ...inputs,
        markdownFile: flags.markdown,
        terraformReportFile: flags['terraform-report'],
        keepChangeSet: flags['keep-change-set'],
        gate: {
          failOnReplacement: flags['fail-on-replacement'],
          failOnPermissions: flags['fail-on-permissions'],
          allowReplacement: flags['allow-replacement'],
          allowPermissionChanges: flags['allow-permission-changes'],
        },
        mergeRequest,
      },
      { cloudFormation, log: context.log, signal: context.signal },
    );
  },
});

/** The preview component's mr_note input: a note where one can be written, else none and no complaint. */
function inMergeRequestWithToken(env: NodeJS.ProcessEnv): boolean {
  return nonEmpty(env.CI_MERGE_REQUEST_IID) !== undefined && gitlabTokenFromEnv(env) !== undefined;
}

/** Where the note goes, from --gitlab-url as resolved and the CI variables of a merge request pipeline; all gaps named in one line. */
export function mergeRequestSettings(
  flags: { 'gitlab-url'?: string | undefined },
  env: NodeJS.ProcessEnv,
): NonNullable<PreviewOptions['mergeRequest']> | { missing: string } {
  const apiUrl = gitlabApiUrl(flags['gitlab-url']);
  const projectId = nonEmpty(env.CI_PROJECT_ID);
  const mergeRequestIid = nonEmpty(env.CI_MERGE_REQUEST_IID);
  const token = gitlabTokenFromEnv(env);
  const missing = [
    apiUrl ? undefined : 'CI_API_V4_URL (or --gitlab-url)',
    projectId ? undefined : 'CI_PROJECT_ID',
    mergeRequestIid ? undefined : 'CI_MERGE_REQUEST_IID',
    token ? undefined : 'RUNNER_FLEET_GITLAB_TOKEN',
  ].filter((name): name is string => name !== undefined);
  if (!apiUrl || !projectId || !mergeRequestIid || !token) {
    return {
      missing: `--mr-note needs ${missing.join(', ')}: run it in a merge request pipeline and set RUNNER_FLEET_GITLAB_TOKEN to a project or group access token with api scope (CI_JOB_TOKEN cannot post notes)`,
    };
  }
  return { projectId, mergeRequestIid, gitlab: createGitLabClient({ apiUrl, token }) };
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
