/**
 * An HTTP proxy in front of a local AWS emulator that records every API
 * request passing through it: the signing service (from the SigV4 credential
 * scope), the operation and its parameters. The CLI under test is pointed at
 * the proxy with AWS_ENDPOINT_URL, so nothing in the product changes. Wire
 * formats, from the AWS protocol definitions the SDK implements:
 *   awsQuery / ec2Query  form-encoded body with Action=<Operation>
 *   awsJson1_1           X-Amz-Target: <Prefix>.<Operation>, JSON body
 *   restXml (S3)         the method, path and query name the operation
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { listenOnLoopback } from '../support/loopback.ts';

export interface RecordedRequest {
  service: string;
  region: string;
  /** The access key id that signed the request; empty for an unsigned one (STS AssumeRoleWithWebIdentity). */
  accessKeyId: string;
  operation: string;
  /** Query/JSON parameters, or for S3 the bucket/key and query. */
  params: Record<string, unknown>;
  method: string;
  path: string;
  body: string;
}

export interface RecordingProxy {
  endpoint: string;
  requests: RecordedRequest[];
  /** Requests recorded since the mark, and a new mark. */
  take(): RecordedRequest[];
  close(): Promise<void>;
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const targetUrl = new URL(target);
  const requests: RecordedRequest[] = [];
  let mark = 0;
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push(parseRequest(incoming.method ?? 'GET', incoming.url ?? '/', incoming.headers, body));
      const forwarded = httpRequest(
        {
          host: targetUrl.hostname,
          port: targetUrl.port,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        (response) => {
          outgoing.writeHead(response.statusCode ?? 502, response.headers);
          response.pipe(outgoing);
        },
      );
      forwarded.on('error', (error) => {
        outgoing.writeHead(502);
        outgoing.end(String(error));
      });
      forwarded.end(body);
    });
  });
  const endpoint = await listenOnLoopback(server);
  return {
    endpoint,
    requests,
    take() {
      const taken = requests.slice(mark);
      mark = requests.length;
      return taken;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function parseRequest(
  method: string,
  url: string,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): RecordedRequest {
  const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(
    String(headers.authorization),
  );
  const accessKeyId = scope?.[1] ?? '';
  const region = scope?.[2] ?? '';
  const service = scope?.[3] ?? '';
  const text = body.toString('utf8');
  const parsed = new URL(url, 'http://proxy');
  const base = { service, region, accessKeyId, method, path: parsed.pathname, body: text };
  const target = headers['x-amz-target'];
  if (typeof target === 'string') {
    return { ...base, operation: target.split('.').pop() ?? '', params: text ? JSON.parse(text) : {} };
  }
  if (String(headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
    const form = Object.fromEntries(new URLSearchParams(text));
    return { ...base, operation: form.Action ?? '', params: form };
  }
  if (service === 's3') return { ...base, ...s3Operation(method, parsed) };
  return { ...base, operation: `${method} ${parsed.pathname}`, params: {} };
}

/** Path-style S3 (the SDK uses it for an IP-address endpoint): /bucket[/key]?subresource. */
function s3Operation(method: string, url: URL): { operation: string; params: Record<string, unknown> } {
  const [, bucket = '', ...keyParts] = url.pathname.split('/');
  const key = decodeURIComponent(keyParts.join('/'));
  const query = Object.fromEntries(url.searchParams);
  const params = { Bucket: bucket, ...(key ? { Key: key } : {}), query };
  const has = (name: string) => url.searchParams.has(name);
  if (!bucket) return { operation: 'ListBuckets', params };
  if (!key) {
    if (method === 'GET' && has('list-type')) return { operation: 'ListObjectsV2', params };
    if (method === 'GET' && has('versions')) return { operation: 'ListObjectVersions', params };
    if (method === 'GET' && has('location')) return { operation: 'GetBucketLocation', params };
    if (method === 'POST' && has('delete')) return { operation: 'DeleteObjects', params };
    if (method === 'HEAD') return { operation: 'HeadBucket', params };
    if (method === 'GET') return { operation: 'ListObjects', params };
    if (method === 'PUT') return { operation: 'CreateBucket', params };
    if (method === 'DELETE') return { operation: 'DeleteBucket', params };
  } else {
    if (method === 'GET') return { operation: 'GetObject', params };
    if (method === 'HEAD') return { operation: 'HeadObject', params };
    if (method === 'PUT') return { operation: 'PutObject', params };
    if (method === 'DELETE') return { operation: 'DeleteObject', params };
  }
  return { operation: `${method} ${url.pathname}${url.search}`, params };
}
