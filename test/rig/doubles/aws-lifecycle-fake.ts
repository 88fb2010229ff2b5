/**
 * A FAKE of the few AWS calls an instance makes, for the drain rig: Auto
 * Scaling lifecycle actions (RecordLifecycleActionHeartbeat,
 * CompleteLifecycleAction, SetInstanceProtection), SSM GetParameter (the
 * runner token) and CloudWatch PutMetricData. The `aws` CLI reaches it
 * through AWS_ENDPOINT_URL.
 *
 * Why a fake: no emulator here fires lifecycle hooks or enforces their
 * timeouts (FACTS.md, "Local AWS emulators": moto and ministack store hooks
 * but never fire them, and have no CompleteLifecycleAction or heartbeat), and
 * the drain is judged on exactly that. The state machine follows the Auto
 * Scaling user guide ("Amazon EC2 Auto Scaling lifecycle hooks", "Complete a
 * lifecycle action") and API reference:
 *  - a transition puts the instance in Pending:Wait / Terminating:Wait with
 *    one pending action per hook;
 *  - RecordLifecycleActionHeartbeat restarts the hook's HeartbeatTimeout, up
 *    to the global timeout of 100 x HeartbeatTimeout or 48 h, whichever is
 *    smaller;
 *  - CompleteLifecycleAction CONTINUE / ABANDON ends the wait
 *    (ABANDON on launch terminates the instance; on terminate both let it go);
 *  - a wait that times out takes the hook's DefaultResult;
 *  - a heartbeat or completion with no pending action is a ValidationError
 *    ("No active Lifecycle Action found ...").
 * The hooks' HeartbeatTimeout and DefaultResult are read from the template
 * that ships (cfn/runner-fleet.yaml, LifecycleHookSpecificationList) by
 * `hooksFromTemplate`. The rig runs with a time scale (e.g. 1/100, so 600 s
 * becomes 6 s) applied to the hook timeout here and to RF_HEARTBEAT_TIMEOUT
 * for the instance alike, so the shipped ratio between heartbeat interval
 * and timeout is what is tested.
 *
 * Wire formats (from botocore's service models as shipped with the awscli
 * in .tools): Auto Scaling is the query protocol (form body, XML answers),
 * SSM is JSON 1.1 (X-Amz-Target: AmazonSSM.GetParameter), CloudWatch is
 * smithy-rpc-v2-cbor first, then JSON 1.0, then query (the awscli v1 in .tools
 * sends JSON 1.0 with X-Amz-Target: GraniteServiceVersion20100801.PutMetricData;
 * all three are answered). Requests are not signature-checked.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseCloudFormationDocument } from '../../../scripts/config/cfn-yaml.js';
import { listenOnLoopback } from '../../support/loopback.ts';

export interface HookSpec {
  name: string;
  transition: 'autoscaling:EC2_INSTANCE_LAUNCHING' | 'autoscaling:EC2_INSTANCE_TERMINATING';
  heartbeatTimeoutSeconds: number;
  defaultResult: 'CONTINUE' | 'ABANDON';
}

/** The lifecycle hooks as the template defines them, parameters resolved to their defaults. */
export function hooksFromTemplate(templatePath: string): HookSpec[] {
  const template = parseCloudFormationDocument(readFileSync(templatePath, 'utf8')) as {
    Parameters: Record<string, { Default?: unknown }>;
    Mappings: Record<string, Record<string, Record<string, unknown>>>;
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  const resolve = (value: unknown): unknown => {
    if (value && typeof value === 'object') {
      const node = value as Record<string, unknown>;
      if ('Ref' in node) return template.Parameters[String(node.Ref)]?.Default;
      if ('Fn::FindInMap' in node) {
        const [map, top, second] = (node['Fn::FindInMap'] as unknown[]).map(resolve);
        return template.Mappings[String(map)]?.[String(top)]?.[String(second)];
      }
    }
    return value;
  };
  const hooks: HookSpec[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::AutoScaling::AutoScalingGroup') continue;
    const list = (resource.Properties.LifecycleHookSpecificationList ?? []) as Record<string, unknown>[];
    for (const hook of list) {
      hooks.push({
        name: String(resolve(hook.LifecycleHookName)),
        transition: String(resolve(hook.LifecycleTransition)) as HookSpec['transition'],
        heartbeatTimeoutSeconds: Number(resolve(hook.HeartbeatTimeout) ?? 3600),
        defaultResult: String(resolve(hook.DefaultResult) ?? 'ABANDON') as HookSpec['defaultResult'],
      });
    }
  }
  if (hooks.length === 0) throw new Error(`no LifecycleHookSpecificationList in ${templatePath}`);
  return hooks;
}

export interface LifecycleAction {
  hook: HookSpec;
  instanceId: string;
  startedAt: number;
  /** When the wait times out unless heartbeated (ms since epoch). */
  timeoutAt: number;
  /** 100 x HeartbeatTimeout or 48 h, whichever is smaller, from the start. */
  globalTimeoutAt: number;
  heartbeats: number[];
  /** How it ended: by a CompleteLifecycleAction call or by its timeout. */
  result?: { value: 'CONTINUE' | 'ABANDON'; at: number; by: 'call' | 'timeout' };
}

export interface AwsCall {
  service: 'autoscaling' | 'ssm' | 'cloudwatch';
  action: string;
  params: Record<string, string>;
  at: number;
  status: number;
}

export interface AwsLifecycleFake {
  url: string;
  hooks: HookSpec[];
  actions: LifecycleAction[];
  calls: AwsCall[];
  protection: { instanceId: string; protectedFromScaleIn: boolean; at: number }[];
  parameters: Map<string, string>;
  /** Start the instance's launch or terminate wait (Pending:Wait / Terminating:Wait). */
  beginTransition(instanceId: string, transition: HookSpec['transition']): LifecycleAction;
  close(): Promise<void>;
}

const GLOBAL_TIMEOUT_CAP_SECONDS = 48 * 3600;

export async function startAwsLifecycleFake(options: {
  hooks: HookSpec[];
  /** Real seconds per template second (1/100: a 600 s timeout lasts 6 s). */
  timeScale: number;
}): Promise<AwsLifecycleFake> {
  const actions: LifecycleAction[] = [];
  const calls: AwsCall[] = [];
  const protection: AwsLifecycleFake['protection'] = [];
  const parameters = new Map<string, string>();
  const scaledMs = (seconds: number): number => seconds * 1000 * options.timeScale;

  /** Applies DefaultResult to every wait whose timeout passed. */
  const expire = (now: number): void => {
    for (const action of actions) {
      if (action.result) continue;
      const limit = Math.min(action.timeoutAt, action.globalTimeoutAt);
      if (now >= limit) action.result = { value: action.hook.defaultResult, at: limit, by: 'timeout' };
    }
  };
  const timer = setInterval(() => expire(Date.now()), 100);

  const pending = (hookName: string, instanceId: string): LifecycleAction | undefined => {
    expire(Date.now());
    return actions.find((a) => !a.result && a.hook.name === hookName && a.instanceId === instanceId);
  };

  const xml = (action: string, result = ''): string =>
    `<${action}Response xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><${action}Result>${result}</${action}Result>` +
    `<ResponseMetadata><RequestId>rig-${Date.now()}</RequestId></ResponseMetadata></${action}Response>`;
  const xmlError = (code: string, message: string): string =>
    `<ErrorResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><Error><Type>Sender</Type><Code>${code}</Code>` +
    `<Message>${message}</Message></Error><RequestId>rig-${Date.now()}</RequestId></ErrorResponse>`;

  const autoscaling = (action: string, params: Record<string, string>): { status: number; body: string } => {
    const now = Date.now();
    switch (action) {
      case 'RecordLifecycleActionHeartbeat':
      case 'CompleteLifecycleAction': {
        const found = pending(params.LifecycleHookName ?? '', params.InstanceId ?? '');
        if (!found) {
          return {
            status: 400,
            body: xmlError(
              'ValidationError',
              `No active Lifecycle Action found with instance ID ${params.InstanceId ?? ''}`,
            ),
          };
        }
        if (action === 'RecordLifecycleActionHeartbeat') {
          found.heartbeats.push(now);
          found.timeoutAt = now + scaledMs(found.hook.heartbeatTimeoutSeconds);
        } else {
          const value = params.LifecycleActionResult;
          if (value !== 'CONTINUE' && value !== 'ABANDON') {
            return {
              status: 400,
              body: xmlError('ValidationError', `invalid LifecycleActionResult ${value}`),
            };
          }
          found.result = { value, at: now, by: 'call' };
        }
        return { status: 200, body: xml(action) };
      }
      case 'SetInstanceProtection': {
        protection.push({
          instanceId: params['InstanceIds.member.1'] ?? '',
          protectedFromScaleIn: params.ProtectedFromScaleIn === 'true',
          at: now,
        });
        return { status: 200, body: xml(action) };
      }
      default:
        return {
          status: 400,
          body: xmlError('InvalidAction', `the rig's fake does not implement ${action}`),
        };
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const at = Date.now();
    const target = String(req.headers['x-amz-target'] ?? '');
    const path = req.url ?? '/';
    if (target.startsWith('AmazonSSM.')) {
      const action = target.slice('AmazonSSM.'.length);
      const body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, string>;
      const call: AwsCall = { service: 'ssm', action, params: { Name: body.Name ?? '' }, at, status: 200 };
      calls.push(call);
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      const value = action === 'GetParameter' ? parameters.get(body.Name ?? '') : undefined;
      if (value === undefined) {
        call.status = 400;
        res.statusCode = 400;
        res.end(
          JSON.stringify({ __type: 'ParameterNotFound', message: `Parameter ${body.Name ?? ''} not found.` }),
        );
        return;
      }
      res.end(
        JSON.stringify({ Parameter: { Name: body.Name, Type: 'SecureString', Value: value, Version: 1 } }),
      );
      return;
    }
    if (target.startsWith('GraniteServiceVersion20100801.')) {
      // CloudWatch over JSON 1.0 (the awscli v1 in .tools picks it over CBOR).
      calls.push({
        service: 'cloudwatch',
        action: target.slice(target.indexOf('.') + 1),
        params: {},
        at,
        status: 200,
      });
      res.setHeader('content-type', 'application/x-amz-json-1.0');
      res.end('{}');
      return;
    }
    const cbor = /\/service\/GraniteServiceVersion20100801\/operation\/(\w+)$/.exec(path);
    if (cbor) {
      calls.push({ service: 'cloudwatch', action: cbor[1] ?? '', params: {}, at, status: 200 });
      res.setHeader('smithy-protocol', 'rpc-v2-cbor');
      res.setHeader('content-type', 'application/cbor');
      res.end(Buffer.from([0xa0])); // an empty CBOR map: PutMetricData has no output
      return;
    }
    const params = Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
    const action = params.Action ?? '';
    if (params.Version === '2010-08-01') {
      calls.push({ service: 'cloudwatch', action, params, at, status: 200 });
      res.setHeader('content-type', 'text/xml');
      res.end(
        `<${action}Response xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><ResponseMetadata><RequestId>rig</RequestId></ResponseMetadata></${action}Response>`,
      );
      return;
    }
    const answer = autoscaling(action, params);
    calls.push({ service: 'autoscaling', action, params, at, status: answer.status });
    res.statusCode = answer.status;
    res.setHeader('content-type', 'text/xml');
    res.end(answer.body);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  const url = await listenOnLoopback(server);

  return {
    url,
    hooks: options.hooks,
    actions,
    calls,
    protection,
    parameters,
    beginTransition(instanceId, transition) {
      const hook = options.hooks.find((candidate) => candidate.transition === transition);
      if (!hook) throw new Error(`the template has no hook for ${transition}`);
      const now = Date.now();
      const action: LifecycleAction = {
        hook,
        instanceId,
        startedAt: now,
        timeoutAt: now + scaledMs(hook.heartbeatTimeoutSeconds),
        globalTimeoutAt:
          now + scaledMs(Math.min(100 * hook.heartbeatTimeoutSeconds, GLOBAL_TIMEOUT_CAP_SECONDS)),
        heartbeats: [],
      };
      actions.push(action);
      return action;
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
