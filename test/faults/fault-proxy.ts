/**
 * A fault-injecting HTTP proxy for AWS API calls, put between the CLI and an
 * emulator (moto or ministack) to make the network and AWS misbehave on
 * purpose: throttling, 5xx, a connection dropped before or after the request
 * reaches AWS (the answer is lost), a slow or never-coming answer, and
 * AccessDenied. Faults are chosen per action and per count.
 *
 * Where the shapes come from:
 * - The action of a request: `Action=` in the form body for the query
 *   protocol (CloudFormation, Auto Scaling, EC2), the `X-Amz-Target` header
 *   (`AmazonSSM.PutParameter`) for the JSON protocol (SSM).
 * - Error bodies: the query protocol's `<ErrorResponse><Error><Type>,
 *   <Code>, <Message></Error><RequestId>` (AWS "Query API error responses"),
 *   HTTP 400 for Throttling, 403 for AccessDenied, 503 for ServiceUnavailable;
 *   the JSON protocol's `{"__type": ..., "message": ...}` with HTTP 400.
 *   cli-faults.test.ts checks the query-protocol document against the one
 *   ministack itself sends (same elements) and that the SDK reads its code.
 */
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { listenOnLoopback } from '../support/loopback.ts';

export type Fault =
  | 'throttle'
  | 'server-error'
  | 'drop-before'
  | 'drop-after'
  | 'delay'
  | 'hang'
  | 'access-denied';

export interface FaultRule {
  /** The AWS action (DescribeStacks, PutParameter), or '*' for every one. */
  action: string;
  fault: Fault;
  /** Matching requests let through unharmed before the fault starts (default 0). */
  skip?: number;
  /** How many matching requests get the fault (default: all of them). */
  count?: number;
  /** For 'delay': how long to hold the request before forwarding it. */
  delayMs?: number;
  /**
   * For 'delay': hold the request until the proxy has answered this action
   * (with any status) `untilAnswers` times (delayMs, default 30 s, then bounds
   * the wait). Forces one order of two racing clients.
   */
  until?: string;
  /** How many answers to `until` to wait for (default 1). */
  untilAnswers?: number;
}

export interface ProxyCall {
  action: string;
  at: number;
  fault: Fault | undefined;
  status: number | undefined;
}

/**
 * Makes a stack look still in progress for a while after ExecuteChangeSet or
 * DeleteStack, by rewriting the status DescribeStacks reports: the stack's
 * real end then happens at a moment the test knows (`releasedAt`).
 */
export interface HeldCompletion {
  /** How long after the operation starts its end is let through. */
  holdMs: () => number;
}

export interface FaultProxy {
  endpoint: string;
  calls: ProxyCall[];
  setRules(rules: FaultRule[]): void;
  holdCompletion(hold: HeldCompletion | undefined): void;
  /** When the held operation's end was let through (ms since the epoch), per operation. */
  releases: number[];
  /** Answers that were left hanging so far. */
  hangingCount(): number;
  stop(): Promise<void>;
}

interface ActiveRule extends FaultRule {
  seen: number;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let rules: ActiveRule[] = [];
  let hold: HeldCompletion | undefined;
  let releaseAt: number | undefined;
  const releases: number[] = [];
  const calls: ProxyCall[] = [];
  const answerWaiters = new Map<string, { times: number; wake: () => void }[]>();
  const answers = new Map<string, number>();
  const untilAnswered = (action: string, times: number, boundMs: number) =>
    (answers.get(action) ?? 0) >= times
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, boundMs);
          const waiters = answerWaiters.get(action) ?? [];
          waiters.push({
            times,
            wake: () => {
              clearTimeout(timer);
              resolve();
            },
          });
          answerWaiters.set(action, waiters);
        });
  const hanging = new Set<ServerResponse>();
  const sockets = new Set<Socket>();

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const action = actionOf(req, body);
    const rule = pickRule(rules, action);
    const call: ProxyCall = { action, at: Date.now(), fault: rule?.fault, status: undefined };
    calls.push(call);
    const protocol = req.headers['x-amz-target'] ? 'json' : 'query';
    switch (rule?.fault) {
      case 'throttle':
        call.status = 400;
        return sendError(res, protocol, 400, 'Throttling', 'Rate exceeded');
      case 'access-denied':
        call.status = 403;
        return sendError(
          res,
          protocol,
          403,
          protocol === 'json' ? 'AccessDeniedException' : 'AccessDenied',
          `User: arn:aws:sts::123456789012:assumed-role/runner-fleet-deployer/ci is not authorized to perform: ${serviceOf(req, body)}:${action} because no identity-based policy allows the ${serviceOf(req, body)}:${action} action`,
        );
      case 'server-error':
        call.status = 503;
        return sendError(
          res,
          protocol,
          503,
          'ServiceUnavailable',
          'Service is unavailable. Please try again.',
        );
      case 'drop-before':
        req.socket.destroy();
        return;
      case 'hang':
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      case 'delay':
        if (rule.until) await untilAnswered(rule.until, rule.untilAnswers ?? 1, rule.delayMs ?? 30_000);
        else await new Promise((resolve) => setTimeout(resolve, rule.delayMs ?? 1000));
        break;
      default:
        break;
    }
    let answer: { status: number; headers: Record<string, string>; body: Buffer };
    try {
      answer = await forward(upstream, req, body);
    } catch {
      req.socket.destroy();
      return;
    }
    if (rule?.fault === 'drop-after') {
      // The emulator did the work; the client never hears of it.
      req.socket.destroy();
      return;
    }
    if (hold && (action === 'ExecuteChangeSet' || action === 'DeleteStack') && answer.status === 200) {
      releaseAt = Date.now() + hold.holdMs();
      releases.push(releaseAt);
    }
    let out = answer.body;
    if (action === 'DescribeStacks' && releaseAt !== undefined && Date.now() < releaseAt) {
      out = Buffer.from(stillInProgress(out.toString('utf8')));
    }
    call.status = answer.status;
    res.writeHead(answer.status, { ...answer.headers, 'content-length': String(out.length) });
    res.end(out);
    const answered = (answers.get(action) ?? 0) + 1;
    answers.set(action, answered);
    const waiting = answerWaiters.get(action) ?? [];
    for (const waiter of waiting.filter((w) => w.times <= answered)) waiter.wake();
    answerWaiters.set(
      action,
      waiting.filter((w) => w.times > answered),
    );
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const endpoint = await listenOnLoopback(server);

  return {
    endpoint,
    calls,
    releases,
    setRules(next) {
      answers.clear();
      rules = next.map((rule) => ({ ...rule, seen: 0 }));
    },
    holdCompletion(next) {
      hold = next;
      releaseAt = undefined;
    },
    hangingCount: () => calls.filter((call) => call.fault === 'hang').length,
    async stop() {
      for (const res of hanging) res.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function pickRule(rules: ActiveRule[], action: string): ActiveRule | undefined {
  for (const rule of rules) {
    if (rule.action !== '*' && rule.action !== action) continue;
    rule.seen += 1;
    const skip = rule.skip ?? 0;
    if (rule.seen <= skip) continue;
    if (rule.count !== undefined && rule.seen > skip + rule.count) continue;
    return rule;
  }
  return undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function actionOf(req: IncomingMessage, body: Buffer): string {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return target.split('.').pop() ?? target;
  const form = new URLSearchParams(body.toString('utf8'));
  return form.get('Action') ?? new URL(req.url ?? '/', 'http://x').searchParams.get('Action') ?? 'unknown';
}

function serviceOf(req: IncomingMessage, body: Buffer): string {
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string' && target.startsWith('AmazonSSM')) return 'ssm';
  const version = new URLSearchParams(body.toString('utf8')).get('Version');
  return version === '2011-01-01' ? 'autoscaling' : 'cloudformation';
}

function sendError(
  res: ServerResponse,
  protocol: 'json' | 'query',
  status: number,
  code: string,
  message: string,
): void {
  const requestId = randomUUID();
  if (protocol === 'json') {
    const body = JSON.stringify({ __type: code, message });
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': requestId,
      'content-length': String(Buffer.byteLength(body)),
    });
    res.end(body);
    return;
  }
  const type = status >= 500 ? 'Receiver' : 'Sender';
  const body = `<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <Error>
    <Type>${type}</Type>
    <Code>${code}</Code>
    <Message>${message}</Message>
  </Error>
  <RequestId>${requestId}</RequestId>
</ErrorResponse>
`;
  res.writeHead(status, {
    'content-type': 'text/xml',
    'x-amzn-requestid': requestId,
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

function forward(
  upstream: URL,
  req: IncomingMessage,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined && key !== 'connection')
        headers[key] = Array.isArray(value) ? value.join(', ') : value;
    }
    const outgoing = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...headers, 'content-length': String(body.length) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const out: Record<string, string> = {};
          for (const [key, value] of Object.entries(response.headers)) {
            if (
              value === undefined ||
              key === 'content-length' ||
              key === 'transfer-encoding' ||
              key === 'connection'
            ) {
              continue;
            }
            out[key] = Array.isArray(value) ? value.join(', ') : value;
          }
          resolve({ status: response.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) });
        });
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** DescribeStacks (query protocol XML) with every finished status shown as still running. */
function stillInProgress(xml: string): string {
  return xml.replace(
    /<StackStatus>(CREATE|UPDATE|DELETE)_COMPLETE<\/StackStatus>/g,
    (_match, verb: string) => `<StackStatus>${verb}_IN_PROGRESS</StackStatus>`,
  );
}
