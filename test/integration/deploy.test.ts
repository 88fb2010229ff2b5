/**
 * The real `runner-fleet deploy` process against a local AWS emulator over
 * HTTP. Runs on both emulators: ministack has asynchronous stacks, resource
 * events and rollback states; moto is synchronous and keeps a failed create in
 * CREATE_IN_PROGRESS, so the rollback assertions are ministack's, and moto's
 * own behaviour for the same scenario is asserted instead (see FACTS.md).
 */
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interpolate, readComponent } from '../components/gitlab-ci.ts';
import { jobVariables, runJobScript } from '../components/job-script.ts';
import { runCliProcess } from '../support/cli-process.ts';
import { type Emulator, type EmulatorName, ROOT, startEmulator } from '../support/emulator.ts';

const templates = join(ROOT, 'test', 'fixtures', 'templates');
const basic = join(templates, 'basic.yaml');
const broken = join(templates, 'broken-resource.yaml');

describe.each<EmulatorName>(['ministack', 'moto'])('deploy against %s', (emulatorName) => {
  let emulator: Emulator;
  let cfn: CloudFormationClient;

  beforeAll(async () => {
    emulator = await startEmulator(emulatorName);
    cfn = new CloudFormationClient({
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
  });
  afterAll(async () => {
    cfn?.destroy();
    await emulator?.stop();
  });

  const deploy = (args: string[]) => runCliProcess(['deploy', ...args], emulator.env);
  const stackOf = async (name: string) =>
    (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];

  it('creates, re-deploys without changes, then updates a stack', async () => {
    const dotenv = join(tmpdir(), `rf-${emulatorName}-${process.pid}.env`);
    const create = await deploy([
      '--stack-name',
      'fleet-a',
      '--template-file',
      basic,
      '--parameters',
      join(ROOT, 'test/fixtures/parameters/basic-prod.yaml'),
      '--tag',
      'team=platform',
      '--outputs-dotenv',
      dotenv,
    ]);
    expect(create.code, create.output).toBe(0);
    expect(create.stdout).toContain('Creating stack fleet-a');
    expect(create.stdout).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:]+Z fleet-a +AWS::CloudFormation::Stack +CREATE_COMPLETE/m,
    );
    expect(create.stdout).toContain('Stack fleet-a CREATE_COMPLETE');
    expect(create.stdout).toContain('ApiSecret = ****');
    expect(create.output).not.toContain('not-a-real-secret');
    const created = await stackOf('fleet-a');
    expect(created?.StackStatus).toBe('CREATE_COMPLETE');
    expect(created?.Parameters).toContainEqual({ ParameterKey: 'Environment', ParameterValue: 'prod' });
    expect(created?.Tags).toContainEqual({ Key: 'team', Value: 'platform' });
    const dotenvText = await readFile(dotenv, 'utf8');
    if (emulatorName === 'ministack') {
      expect(create.stdout).toMatch(/Queue +AWS::SQS::Queue +CREATE_COMPLETE/);
      expect(dotenvText).toMatch(/^QueueUrl=http.*fleet-a-one$/m);
      expect(dotenvText).toContain('EnvironmentName=prod');
    } else {
      // moto keeps no Outputs after executing a CREATE change set: an empty report, not an error.
      expect(dotenvText).toBe('');
    }

    const again = await deploy(['--stack-name', 'fleet-a', '--template-file', basic]);
    expect(again.code, again.output).toBe(0);
    expect(again.stdout.match(/No changes: stack fleet-a is up to date\./g)).toHaveLength(1);
    expect(again.stdout).not.toContain('Executing change set');

    const update = await deploy([
      '--stack-name',
      'fleet-a',
      '--template-file',
      basic,
      '--parameter',
      'QueueSuffix=two',
    ]);
    expect(update.code, update.output).toBe(0);
    expect(update.stdout).toContain('Updating stack fleet-a');
    expect(update.stdout).toContain('Environment = (previous value)  [previous]');
    expect(update.stdout).toContain('Stack fleet-a UPDATE_COMPLETE');
    const updated = await stackOf('fleet-a');
    expect(updated?.StackStatus).toBe('UPDATE_COMPLETE');
    expect(updated?.Parameters).toContainEqual({ ParameterKey: 'QueueSuffix', ParameterValue: 'two' });
    expect(updated?.Parameters).toContainEqual({ ParameterKey: 'Environment', ParameterValue: 'prod' });
    // Deploys without --tag keep the tags the stack has.
    expect(updated?.Tags).toContainEqual({ Key: 'team', Value: 'platform' });
    if (emulatorName === 'ministack') {
      expect(update.stdout).toContain('> Queue AWS::SQS::Queue (replacement: True)');
      expect(updated?.Outputs?.find((o) => o.OutputKey === 'QueueUrl')?.OutputValue).toMatch(/fleet-a-two$/);
    }
    await rm(dotenv, { force: true });
  });

  it('fails a create whose resource cannot be made, and recovers on the next deploy', async () => {
    const failed = await deploy(['--stack-name', 'fleet-b', '--template-file', broken]);
    expect(failed.code, failed.output).toBe(1);
    if (emulatorName === 'ministack') {
      expect(failed.stderr).toContain('error: stack fleet-b ended in ROLLBACK_COMPLETE, not CREATE_COMPLETE');
      expect(failed.stderr).toMatch(/Broken \(AWS::SSM::Parameter\) CREATE_FAILED: .*NotAType/);
      expect((await stackOf('fleet-b'))?.StackStatus).toBe('ROLLBACK_COMPLETE');

      const retry = await deploy(['--stack-name', 'fleet-b', '--template-file', basic]);
      expect(retry.code, retry.output).toBe(0);
      expect(retry.stdout).toContain(
        'is ROLLBACK_COMPLETE (its first create failed): deleting it to create it again',
      );
      expect(retry.stdout).toMatch(/fleet-b +AWS::CloudFormation::Stack +DELETE_COMPLETE/);
      expect((await stackOf('fleet-b'))?.StackStatus).toBe('CREATE_COMPLETE');
    } else {
      // moto rejects the resource when the change set executes; there is no rollback state to see.
      expect(failed.stderr).toMatch(
        /deploy failed: CloudFormation ExecuteChangeSet: ValidationException: .*NotAType/,
      );
    }
  });

  it('fails an update whose resource cannot be changed and reports the cause', async () => {
    const create = await deploy(['--stack-name', 'fleet-c', '--template-file', basic]);
    expect(create.code, create.output).toBe(0);
    const failed = await deploy(['--stack-name', 'fleet-c', '--template-file', broken]);
    expect(failed.code, failed.output).toBe(1);
    if (emulatorName === 'ministack') {
      expect(failed.stderr).toContain(
        'error: stack fleet-c ended in UPDATE_ROLLBACK_COMPLETE, not UPDATE_COMPLETE',
      );
      expect(failed.stderr).toMatch(/Broken \(AWS::SSM::Parameter\) (CREATE|UPDATE)_FAILED: .*NotAType/);
      expect((await stackOf('fleet-c'))?.StackStatus).toBe('UPDATE_ROLLBACK_COMPLETE');
      // A stack rolled back by an update is deployable again.
      const fixed = await deploy([
        '--stack-name',
        'fleet-c',
        '--template-file',
        basic,
        '--parameter',
        'QueueSuffix=three',
      ]);
      expect(fixed.code, fixed.output).toBe(0);
      expect((await stackOf('fleet-c'))?.StackStatus).toBe('UPDATE_COMPLETE');
    } else {
      expect(failed.stderr).toMatch(
        /deploy failed: CloudFormation ExecuteChangeSet: ValidationException: .*NotAType/,
      );
    }
  });

  it('rejects a template with bad syntax before calling AWS, and one CloudFormation refuses', async () => {
    const malformed = await deploy([
      '--stack-name',
      'fleet-d',
      '--template-file',
      join(templates, 'malformed.yaml'),
    ]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr.trim().split('\n')).toHaveLength(1);
    expect(malformed.stderr).toMatch(
      /^error: template .*malformed\.yaml is not valid YAML\/JSON: .*fix the syntax/,
    );

    const missing = await deploy([
      '--stack-name',
      'fleet-d',
      '--template-file',
      join(templates, 'nope.yaml'),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read template file');
    expect(missing.stderr).toContain('no such file');

    const dangling = await deploy([
      '--stack-name',
      'fleet-d',
      '--template-file',
      join(templates, 'invalid-reference.yaml'),
    ]);
    expect(dangling.code, dangling.output).toBe(2);
    expect(dangling.stderr).toMatch(
      /error: template .*invalid-reference\.yaml: resource Setting refers to DoesNotExist, which is not a parameter or resource/,
    );
    await expect(stackOf('fleet-d')).rejects.toThrow(/does not exist/);

    const unknownType = await deploy([
      '--stack-name',
      'fleet-d',
      '--template-file',
      join(templates, 'unknown-type.yaml'),
    ]);
    if (emulatorName === 'ministack') {
      expect(unknownType.code, unknownType.output).toBe(2);
      expect(unknownType.stderr).toMatch(
        /error: CloudFormation rejected the request: Template format error: Unrecognized resource types: \[AWS::Nope::Thing\]/,
      );
    } else {
      // moto does not validate resource types: it "creates" the stack. Recorded, not asserted as product behaviour.
      expect(unknownType.code, unknownType.output).toBe(0);
    }
  });

  it('reports every bad parameter at once with exit code 2 and touches nothing', async () => {
    const result = await deploy([
      '--stack-name',
      'fleet-e',
      '--template-file',
      basic,
      '--parameter',
      'Nope=1',
      '--parameter',
      'Environment=staging',
      '--parameter',
      'novalue',
      '--tag',
      '=x',
    ]);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^error: invalid --parameter \(no "="\): expected KEY=VALUE/),
      expect.stringMatching(/^error: invalid --tag \(no "="\)/),
      expect.stringMatching(
        /^error: unknown parameter Nope: the template declares ApiSecret, Environment, QueueSuffix$/,
      ),
      expect.stringMatching(/^error: parameter Environment=staging is not allowed: use one of test, prod$/),
    ]);
    await expect(stackOf('fleet-e')).rejects.toThrow(/does not exist/);
  });

  it('stores the runner token from an environment variable as a SecureString, never printing it', async () => {
    const token = 'glrt-integration-test-token-0123456789';
    const args = [
      'deploy',
      '--stack-name',
      'fleet-g',
      '--template-file',
      basic,
      '--runner-token-from-env',
      'FLEET_TOKEN',
      '--runner-token-parameter',
      '/fleet-g/runner-token',
    ];
    const first = await runCliProcess(args, { ...emulator.env, FLEET_TOKEN: token });
    expect(first.code, first.output).toBe(0);
    expect(first.stdout).toContain(
      'Runner token stored in new SSM SecureString /fleet-g/runner-token (value not shown)',
    );
    expect(first.output).not.toContain(token);
    const ssm = new SSMClient({
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const stored = await ssm.send(
      new GetParameterCommand({ Name: '/fleet-g/runner-token', WithDecryption: true }),
    );
    expect(stored.Parameter?.Type).toBe('SecureString');
    expect(stored.Parameter?.Value).toBe(token);

    const again = await runCliProcess(args, { ...emulator.env, FLEET_TOKEN: token });
    expect(again.code, again.output).toBe(0);
    expect(again.stdout).toContain('Runner token in SSM parameter /fleet-g/runner-token is up to date');

    const unset = await runCliProcess(args, emulator.env);
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain(
      'environment variable FLEET_TOKEN (--runner-token-from-env) is empty or unset',
    );
    ssm.destroy();
  });

  it("runs the deploy component's job: template, parameter file, list inputs and runner token from its variables", async () => {
    const deployJob = interpolate(readComponent(join(ROOT, 'templates', 'deploy.yml')), {
      region: 'us-east-1',
      stack_name: 'fleet-job',
      aws_auth: 'environment',
      template_file: basic,
      parameters_file: join(ROOT, 'test/fixtures/parameters/basic-prod.yaml'),
      // Items stay whole, spaces and '=' included, as the job's shell passed them before.
      parameters: ['QueueSuffix=two', 'ApiSecret=with space=and equals'],
      stack_tags: ['team=platform ops', 'formula=a=b'],
      runner_token_parameter: '/fleet-job/runner-token',
    })['runner-fleet-deploy'];
    if (!deployJob) throw new Error('deploy component has no runner-fleet-deploy job');
    const token = 'glrt-component-job-token-0123456789';
    const ci = { ...(emulator.env as Record<string, string>), CI_JOB_MANUAL: 'false' };
    const first = runJobScript(deployJob, { ...ci, RUNNER_FLEET_RUNNER_TOKEN: token }, { realCli: true });
    expect(first.status, first.stdout + first.stderr).toBe(0);
    expect(first.cliCalls).toEqual([
      [
        'deploy',
        '--stack-name',
        'fleet-job',
        '--region',
        'us-east-1',
        '--outputs-dotenv',
        'runner-fleet-outputs.env',
      ],
    ]);
    // The longest wait comes from the job's variable too (runner-fleet deploy --help).
    expect(jobVariables(deployJob).RUNNER_FLEET_TIMEOUT_MINUTES).toBe('60');
    expect(first.stdout).toContain(
      'Runner token stored in new SSM SecureString /fleet-job/runner-token (value not shown)',
    );
    expect(first.stdout + first.stderr).not.toContain(token);
    const stack = await stackOf('fleet-job');
    expect(stack?.Parameters).toEqual(
      expect.arrayContaining([
        { ParameterKey: 'Environment', ParameterValue: 'prod' },
        { ParameterKey: 'QueueSuffix', ParameterValue: 'two' },
      ]),
    );
    expect(stack?.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'team', Value: 'platform ops' },
        { Key: 'formula', Value: 'a=b' },
      ]),
    );

    // Without the token the job deploys and leaves the stored one alone.
    const again = runJobScript(deployJob, ci, { realCli: true });
    expect(again.status, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain(
      'RUNNER_FLEET_RUNNER_TOKEN is not set; the runner token in SSM is left as it is',
    );
    expect(again.stdout).not.toContain('Runner token stored');
  });

  it('refuses an unknown --preset with the shipped names, exit 2, before any change', async () => {
    const result = await runCliProcess(
      ['deploy', '--stack-name', 'fleet-p', '--template-file', basic, '--preset', 'linux-nope'],
      emulator.env,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error: unknown --preset linux-nope: use one of none, linux-docker-autoscaler-arm64, .*windows-shell-warm-ha$/m,
    );
    await expect(stackOf('fleet-p')).rejects.toThrow();
  });

  it('says which AWS setting is missing, with exit code 2', async () => {
    const result = await runCliProcess(['deploy', '--stack-name', 'fleet-f', '--template-file', basic], {
      AWS_ENDPOINT_URL: emulator.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: no AWS region: pass --region or set AWS_REGION');
    expect(result.stderr).toContain('error: no AWS credentials');
  });
});
