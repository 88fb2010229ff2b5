/**
 * The real CLI process under faults: ministack behind the project's fault
 * proxy (fault-proxy.ts), which throttles, fails, drops and hangs chosen AWS
 * calls. Every case asserts the documented exit code, one clear line, a
 * bounded wall time, and that nothing is left behind: no pending change set,
 * no REVIEW_IN_PROGRESS stack. Timeouts are short through the CLI's own
 * settings (RUNNER_FLEET_AWS_TIMEOUT_SECONDS=1, AWS_MAX_ATTEMPTS=3), so the
 * suite stays quick.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetParameterHistoryCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { emulatorAvailable } from '../support/emulator.ts';
import { ATTEMPT_TIMEOUT_SECONDS, basic, faultHarness } from './harness.ts';

describe.skipIf(!emulatorAvailable('ministack'))(
  'the CLI under faults (ministack behind the fault proxy)',
  () => {
    const h = faultHarness();
    const { cli, deployArgs, existing, errorLines, stackOf, leftovers, faults } = h;

    describe('hung and dropped connections', () => {
      it('a DescribeStacks that never answers ends the deploy in seconds, after three tries, with one line', async () => {
        faults({ action: 'DescribeStacks', fault: 'hang' });
        const result = await cli(deployArgs('hang-first'));
        expect(result.code, result.output).toBe(1);
        expect(errorLines(result)).toEqual([
          expect.stringMatching(
            /^error: deploy failed: CloudFormation DescribeStacks got no answer in time \(ETIMEDOUT\) after 3 attempt\(s\); .*RUNNER_FLEET_AWS_TIMEOUT_SECONDS$/,
          ),
        ]);
        // Three attempts of one second each, with short pauses between; start-up takes a few seconds.
        const tries = h.proxy.calls.filter((call) => call.action === 'DescribeStacks');
        expect(tries).toHaveLength(3);
        const spread = ((tries.at(-1)?.at ?? 0) - (tries[0]?.at ?? 0)) / 1000;
        expect(spread).toBeLessThan(3 * ATTEMPT_TIMEOUT_SECONDS + 1.5);
        expect(result.seconds).toBeLessThan(20);
        expect(await leftovers()).toEqual([]);
      });

      it('losing sight of the stack after execution says the update goes on in CloudFormation', async () => {
        await existing('hang-follow');
        // The first read marks existing events; the ones after execution hang.
        faults({ action: 'DescribeStackEvents', fault: 'hang', skip: 1 });
        const result = await cli(deployArgs('hang-follow', '--parameter=QueueSuffix=two'));
        expect(result.code, result.output).toBe(1);
        expect(result.stderr).toMatch(
          /error: deploy failed: CloudFormation DescribeStackEvents got no answer in time/,
        );
        expect(result.stderr).toContain(
          'the update of hang-follow goes on in CloudFormation: run deploy again to follow it',
        );
        expect(result.seconds).toBeLessThan(25);
      });

      it('a CreateChangeSet whose answer is lost is found by name: one change set, deployed, nothing left over', async () => {
        faults({ action: 'CreateChangeSet', fault: 'drop-after', count: 1 });
        const result = await cli(deployArgs('lost-create'));
        expect(result.code, result.output).toBe(0);
        expect((await stackOf('lost-create'))?.StackStatus).toBe('CREATE_COMPLETE');
        expect(await leftovers()).toEqual([]);
      });

      it('an ExecuteChangeSet whose answer is lost is not executed twice and the deploy follows it', async () => {
        await existing('lost-execute');
        faults({ action: 'ExecuteChangeSet', fault: 'drop-after', count: 1 });
        const result = await cli(deployArgs('lost-execute', '--parameter=QueueSuffix=two'));
        expect(result.code, result.output).toBe(0);
        expect(result.stdout).toContain('Stack lost-execute UPDATE_COMPLETE');
        expect(await leftovers()).toEqual([]);
      });

      it('a runner token PutParameter whose answer is lost is not written a second time', async () => {
        const tokenDeploy = (token: string) =>
          cli(
            [
              ...deployArgs('lost-put'),
              '--runner-token-from-env',
              'FLEET_TOKEN',
              '--runner-token-parameter',
              '/fleet/lost-put',
            ],
            { FLEET_TOKEN: token },
          );
        const putsSince = (index: number) =>
          h.proxy.calls.slice(index).filter((call) => call.action === 'PutParameter');
        // Creating the parameter, then overwriting it: each answer lost once.
        faults({ action: 'PutParameter', fault: 'drop-after', count: 1 });
        const first = await tokenDeploy('glrt-lost-put-first-0123456789');
        expect(first.code, first.output).toBe(0);
        expect(putsSince(0)).toHaveLength(1);
        faults({ action: 'PutParameter', fault: 'drop-after', count: 1 });
        const callsBefore = h.proxy.calls.length;
        const second = await tokenDeploy('glrt-lost-put-second-0123456789');
        expect(second.code, second.output).toBe(0);
        expect(second.output).not.toContain('glrt-lost-put');
        // The dropped attempt stored the new token; its retry must not add the same value again.
        expect(putsSince(callsBefore)).toHaveLength(1);
        const history = await h.ssm.send(
          new GetParameterHistoryCommand({ Name: '/fleet/lost-put', WithDecryption: true }),
        );
        expect((history.Parameters ?? []).map((version) => version.Value)).toEqual([
          'glrt-lost-put-first-0123456789',
          'glrt-lost-put-second-0123456789',
        ]);
      });

      it('a connection dropped before the request, and 5xx answers, are retried quietly to success', async () => {
        faults(
          { action: 'CreateChangeSet', fault: 'drop-before', count: 1 },
          { action: 'DescribeStacks', fault: 'server-error', count: 2 },
        );
        const result = await cli(deployArgs('blips'));
        expect(result.code, result.output).toBe(0);
        expect(await leftovers()).toEqual([]);
      });
    });

    describe("the proxy's error documents", () => {
      /** The element paths of an XML document, without text: its shape. */
      const shape = (xml: string) =>
        [...xml.matchAll(/<\/?([A-Za-z]+)[^>]*>/g)].map(
          (match) => `${match[0].startsWith('</') ? '/' : ''}${match[1]}`,
        );

      const rawCall = (action: string) =>
        fetch(h.proxy.endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `Action=${action}&Version=2010-05-15&StackName=no-such-stack`,
        });

      it("have the shape of the emulator's own query-protocol errors, and the SDK reads their code", async () => {
        // The emulator's real answer for a missing stack: an ErrorResponse with Error/Type/Code/Message.
        const real = await rawCall('DescribeStacks');
        expect(real.status).toBe(400);
        const realShape = shape(await real.text());
        faults({ action: 'DescribeStacks', fault: 'throttle' });
        const injected = await rawCall('DescribeStacks');
        expect(injected.status).toBe(400);
        expect(shape(await injected.text())).toEqual(realShape);

        const sdk = new CloudFormationClient({
          endpoint: h.proxy.endpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
          maxAttempts: 1,
        });
        const error = (await sdk
          .send(new DescribeStacksCommand({ StackName: 'no-such-stack' }))
          .catch((e: unknown) => e)) as Error & { $metadata: { httpStatusCode?: number } };
        sdk.destroy();
        expect(error.name).toBe('Throttling');
        expect(error.$metadata.httpStatusCode).toBe(400);
      });
    });

    describe('throttling and refusals', () => {
      it('throttling while the change set is computed backs off, says so, and the deploy succeeds', async () => {
        faults({ action: 'DescribeChangeSet', fault: 'throttle', count: 2 });
        const result = await cli(deployArgs('throttled'));
        expect(result.code, result.output).toBe(0);
        expect(result.stderr).toMatch(
          /warning: AWS is throttling CloudFormation DescribeChangeSet \(Throttling\): backing off and retrying \(attempt 1 of 3\)/,
        );
      });

      it('running out of throttling retries says so, with what to do, and leaves nothing behind', async () => {
        faults({ action: 'DescribeChangeSet', fault: 'throttle' });
        const result = await cli(deployArgs('throttled-out'));
        expect(result.code, result.output).toBe(1);
        expect(errorLines(result)).toEqual([
          'error: deploy failed: AWS kept throttling CloudFormation DescribeChangeSet (Throttling) after 3 attempts; other pipelines or tools are calling this account: run again later, or raise AWS_MAX_ATTEMPTS',
        ]);
        expect(result.seconds).toBeLessThan(25);
        expect(await leftovers()).toEqual([]);
      });

      it('AccessDenied while waiting for the change set fails at once, names the action, and cleans up', async () => {
        faults({ action: 'DescribeChangeSet', fault: 'access-denied', count: 1 });
        const result = await cli(deployArgs('denied'));
        expect(result.code, result.output).toBe(1);
        expect(errorLines(result)).toEqual([
          expect.stringMatching(
            /^error: deploy failed: AWS refused CloudFormation DescribeChangeSet \(AccessDenied\);/,
          ),
        ]);
        expect(
          h.proxy.calls.filter((call) => call.action === 'DescribeChangeSet' && call.fault),
        ).toHaveLength(1);
        expect(result.seconds).toBeLessThan(20);
        expect(await leftovers()).toEqual([]);
        expect(await stackOf('denied')).toBeUndefined();
      });

      it('preview: AccessDenied on the change set fails at once and deletes what it made', async () => {
        faults({ action: 'DescribeChangeSet', fault: 'access-denied', count: 1 });
        const result = await cli(['preview', '--stack-name', 'denied-preview', '--template-file', basic]);
        expect(result.code, result.output).toBe(1);
        expect(result.stderr).toMatch(/AWS refused CloudFormation DescribeChangeSet \(AccessDenied\)/);
        expect(await leftovers()).toEqual([]);
      });

      it('roll: AccessDenied is one line naming the call', async () => {
        faults({ action: 'DescribeStacks', fault: 'access-denied' });
        const result = await cli(['roll', '--stack-name', 'fleet', '--dry-run']);
        expect(result.code, result.output).toBe(1);
        expect(errorLines(result)).toEqual([
          expect.stringMatching(
            /^error: roll failed: AWS refused CloudFormation DescribeStacks \(AccessDenied\);/,
          ),
        ]);
      });

      it('destroy: a lost DeleteStack answer is retried with the same request token and the stack is gone', async () => {
        await existing('lost-delete');
        faults({ action: 'DeleteStack', fault: 'drop-after', count: 1 });
        const result = await cli([
          'destroy',
          '--stack-name',
          'lost-delete',
          '--yes-destroy-stack',
          'lost-delete',
        ]);
        expect(result.code, result.output).toBe(0);
        expect((await stackOf('lost-delete'))?.StackStatus ?? 'DELETE_COMPLETE').toBe('DELETE_COMPLETE');
      });
    });
  },
);
