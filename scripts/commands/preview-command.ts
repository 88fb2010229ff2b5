/**
 * Flags, help text and input checks of `runner-fleet preview`; the work is in
 * preview.ts. Every input problem, GitLab settings included, is reported at
 * once before any AWS or GitLab call.
 */
import { awsSetupProblems, cloudFormationClient } from '../aws/clients.ts';
import { checkWritableFile, loadStackInputs } from '../config/deploy-config.ts';
import { gitlabApiUrl, gitlabTokenFromEnv, gitlabUrlProblems } from '../config/gitlab-access.ts';
import { collectInputProblems, InputError } from '../errors.ts';
import { createGitLabClient } from '../gitlab/client.ts';
import {
  asString,
  type CommandSpec,
  type FlagValues,
  regionOption,
  stackInputOptions,
} from './command-spec.ts';
import { type PreviewOptions, preview } from './preview.ts';

export const previewCommand: CommandSpec = {
  name: 'preview',
  usage: `runner-fleet preview --stack-name NAME --template-file FILE [options]

  --stack-name NAME            CloudFormation stack to preview a create or update of
  --template-file FILE         template (YAML or JSON)
  --parameters FILE            parameter file (as for deploy); repeatable, later wins
  --parameter KEY=VALUE        one parameter value; repeatable; overrides files
  --tag KEY=VALUE              stack tag; repeatable
  --region REGION              AWS region (default: AWS_REGION / AWS_DEFAULT_REGION)
  --markdown FILE              write the Markdown report (also printed to the log)
  --terraform-report FILE      write {"create","update","delete"} counts for the GitLab MR
                               widget (artifacts:reports:terraform); a replacement counts
                               as one create and one delete, as gitlab-terraform does
  --keep-change-set            leave the change set for review instead of deleting it
  --mr-note                    create or update this stack's note on the merge request;
                               needs CI_API_V4_URL (or --gitlab-url), CI_PROJECT_ID,
                               CI_MERGE_REQUEST_IID and RUNNER_FLEET_GITLAB_TOKEN (a project
                               or group access token with api scope; CI_JOB_TOKEN cannot
                               post notes)
  --gitlab-url URL             GitLab instance (default: CI_API_V4_URL, else CI_SERVER_URL)
  --fail-on-replacement        exit 3 if the Auto Scaling Group would be replaced or
                               removed (replacement True or Conditional)
  --fail-on-permissions        exit 3 if IAM or resource policies would change
  --allow-replacement          let a replacement through --fail-on-replacement
  --allow-permission-changes   let a permission change through --fail-on-permissions

The reports and the note are written before the gate decides. Parameters not
given keep their previous value; NoEcho values are never printed.`,
  options: {
    ...stackInputOptions,
    markdown: { type: 'string' },
    'terraform-report': { type: 'string' },
    'keep-change-set': { type: 'boolean' },
    'mr-note': { type: 'boolean' },
    'gitlab-url': { type: 'string' },
    'fail-on-replacement': { type: 'boolean' },
    'fail-on-permissions': { type: 'boolean' },
    'allow-replacement': { type: 'boolean' },
    'allow-permission-changes': { type: 'boolean' },
  },
  async run(flags, context) {
    const problems: string[] = [];
    const markdownFile = asString(flags.markdown);
    const terraformReportFile = asString(flags['terraform-report']);
    problems.push(...(await checkWritableFile('--markdown', markdownFile)));
    problems.push(...(await checkWritableFile('--terraform-report', terraformReportFile)));
    const inputs = await collectInputProblems(loadStackInputs(flags), problems);
    let mergeRequest: PreviewOptions['mergeRequest'];
    problems.push(...gitlabUrlProblems(asString(flags['gitlab-url']), context.env));
    if (flags['mr-note'] === true) {
      const settings = mergeRequestSettings(flags, context.env);
      if ('missing' in settings) problems.push(settings.missing);
      else mergeRequest = settings;
    }
    const cloudFormation = cloudFormationClient(regionOption(flags));
    problems.push(...(await awsSetupProblems(cloudFormation)));
    if (problems.length > 0 || !inputs) throw new InputError(problems);

    await preview(
      {
        ...inputs,
        markdownFile,
        terraformReportFile,
        keepChangeSet: flags['keep-change-set'] === true,
        gate: {
          failOnReplacement: flags['fail-on-replacement'] === true,
          failOnPermissions: flags['fail-on-permissions'] === true,
          allowReplacement: flags['allow-replacement'] === true,
          allowPermissionChanges: flags['allow-permission-changes'] === true,
        },
        mergeRequest,
      },
      { cloudFormation, log: context.log, signal: context.signal },
    );
  },
};

/** Where the note goes, from the CI variables of a merge request pipeline; all gaps named in one line. */
export function mergeRequestSettings(
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
): NonNullable<PreviewOptions['mergeRequest']> | { missing: string } {
  const apiUrl = gitlabApiUrl(asString(flags['gitlab-url']), env);
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
