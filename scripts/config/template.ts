/**
 * Reads a CloudFormation template from disk and extracts what the deployer
 * needs before talking to AWS: its parameters (to reject unknown keys and to
 * know which values are NoEcho) and the capabilities it must acknowledge.
 */
import { readFile } from 'node:fs/promises';
import type { Capability } from '@aws-sdk/client-cloudformation';
import { firstLine, InputError } from '../errors.ts';
import { AliasExpansionError, parseCloudFormationDocument } from './cfn-yaml.ts';

/** CloudFormation refuses a TemplateBody over this size; larger ones must come from S3. */
export const MAX_TEMPLATE_BODY_BYTES = 51_200;

export interface TemplateParameter {
  name: string;
  type: string;
  defaultValue: string | undefined;
  noEcho: boolean;
  allowedValues: string[] | undefined;
}

export interface LoadedTemplate {
  path: string;
  /** What is sent to CloudFormation: the file as it is, or compact JSON when the file is too big. */
  body: string;
  compacted: boolean;
  sourceBytes: number;
  parameters: Map<string, TemplateParameter>;
  /** Outputs that echo a NoEcho parameter: never printed or reported. */
  noEchoOutputs: Set<string>;
  capabilities: Capability[];
}

export async function loadTemplate(path: string): Promise<LoadedTemplate> {
  let body: string;
  try {
    body = await readFile(path, 'utf8');
  } catch (error) {
    throw new InputError(
      `cannot read template file ${path}: ${describeFsError(error)}; check --template-file`,
    );
  }
  return parseTemplate(path, body);
}

export function parseTemplate(path: string, body: string): LoadedTemplate {
  let document: unknown;
  try {
    document = parseCloudFormationDocument(body);
  } catch (error) {
    if (error instanceof AliasExpansionError)
      throw new InputError(`template ${path} refused: ${error.message}`);
    throw new InputError(
      `template ${path} is not valid YAML/JSON: ${firstLine(error)}; fix the syntax and retry`,
    );
  }
  if (!isRecord(document) || !isRecord(document.Resources)) {
    throw new InputError(`template ${path} has no Resources section; is this a CloudFormation template?`);
  }
  const sourceBytes = Buffer.byteLength(body, 'utf8');
  let bodyToSend = body;
  if (sourceBytes > MAX_TEMPLATE_BODY_BYTES) {
    // Comments and indentation count against the limit; the same template as
    // compact JSON usually fits, and needs no S3 bucket.
    bodyToSend = JSON.stringify(document);
    const compactBytes = Buffer.byteLength(bodyToSend, 'utf8');
    if (compactBytes > MAX_TEMPLATE_BODY_BYTES) {
      throw new InputError(
        `template ${path} is ${compactBytes} bytes even as compact JSON, over CloudFormation's ${MAX_TEMPLATE_BODY_BYTES}-byte limit for inline templates; split it into nested stacks`,
      );
    }
  }
  const unresolved = unresolvedReferences(document);
  if (unresolved.length > 0) {
    throw new InputError(
      unresolved.map(
        (ref) =>
          `template ${path}: ${ref.where} refers to ${ref.target}, which is not a parameter or resource`,
      ),
    );
  }
  const parameters = readParameters(document.Parameters);
  return {
    path,
    body: bodyToSend,
    compacted: bodyToSend !== body,
    sourceBytes,
    parameters,
    noEchoOutputs: outputsEchoingNoEcho(document, parameters),
    capabilities: requiredCapabilities(document),
  };
}

function readParameters(section: unknown): Map<string, TemplateParameter> {
  const parameters = new Map<string, TemplateParameter>();
  if (!isRecord(section)) return parameters;
  for (const [name, declaration] of Object.entries(section)) {
    if (!isRecord(declaration)) continue;
    parameters.set(name, {
      name,
      type: String(declaration.Type ?? 'String'),
      defaultValue: declaration.Default === undefined ? undefined : scalarToString(declaration.Default),
      noEcho: String(declaration.NoEcho ?? 'false').toLowerCase() === 'true',
      allowedValues: Array.isArray(declaration.AllowedValues)
        ? declaration.AllowedValues.map(scalarToString)
        : undefined,
    });
  }
  return parameters;
}

/**
 * The capabilities CloudFormation will demand. Computed from the template so
 * the deployer acknowledges exactly what the template needs and no more.
 */
function requiredCapabilities(document: Record<string, unknown>): Capability[] {
  const capabilities = new Set<Capability>();
  const resources = isRecord(document.Resources) ? Object.values(document.Resources) : [];
  for (const resource of resources) {
    if (!isRecord(resource) || typeof resource.Type !== 'string') continue;
    if (resource.Type.startsWith('AWS::IAM::')) {
      capabilities.add('CAPABILITY_IAM');
      const properties = isRecord(resource.Properties) ? resource.Properties : {};
      if (
        ['RoleName', 'UserName', 'GroupName', 'ManagedPolicyName', 'InstanceProfileName'].some(
          (k) => k in properties,
        )
      ) {
        capabilities.add('CAPABILITY_NAMED_IAM');
      }
    }
    if (resource.Type === 'AWS::CloudFormation::Stack' || resource.Type === 'AWS::Serverless::Application') {
      capabilities.add('CAPABILITY_AUTO_EXPAND');
    }
  }
  if (document.Transform !== undefined) capabilities.add('CAPABILITY_AUTO_EXPAND');
  return [...capabilities].sort();
}

export function scalarToString(value: unknown): string {
  if (Array.isArray(value)) return value.map(scalarToString).join(',');
  return String(value);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return firstLine(error);
}

const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

/**
 * The one walk over a template value: calls `onReference` for every name a
 * Ref, Fn::GetAtt or Fn::Sub `${...}` refers to (Sub's own variables
 * excluded). Both the unresolved-reference check and the NoEcho output check
 * use it, so they agree on what a reference is.
 */
export function visitReferences(node: unknown, onReference: (target: string) => void): void {
  const walk = (value: unknown, subVariables: ReadonlySet<string>): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item, subVariables);
      return;
    }
    if (!isRecord(value)) return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string') onReference(inner);
      else if (key === 'Fn::GetAtt') {
        const target = Array.isArray(inner)
          ? inner[0]
          : typeof inner === 'string'
            ? inner.split('.')[0]
            : undefined;
        if (typeof target === 'string') onReference(target);
      } else if (key === 'Fn::Sub') {
        const [text, variables] = Array.isArray(inner) ? inner : [inner, undefined];
        const local = new Set([...subVariables, ...Object.keys(isRecord(variables) ? variables : {})]);
        if (typeof text === 'string') {
          for (const match of text.matchAll(/\$\{([^!}][^}]*)\}/g)) {
            const name = (match[1] ?? '').trim().split('.')[0] ?? '';
            if (!local.has(name)) onReference(name);
          }
        }
        if (variables !== undefined) walk(variables, subVariables);
        continue;
      }
      walk(inner, subVariables);
    }
  };
  walk(node, new Set());
}

/**
 * Ref, GetAtt, Sub and DependsOn targets that name nothing in the template.
 * CloudFormation rejects these too, but only after a round trip; finding them
 * here gives every one at once. Templates with a Transform are left to AWS,
 * since macros may add names (and Fn::ForEach introduces loop variables).
 */
export function unresolvedReferences(document: Record<string, unknown>): { where: string; target: string }[] {
  if (document.Transform !== undefined) return [];
  const resources = isRecord(document.Resources) ? document.Resources : {};
  const known = new Set([
    ...Object.keys(isRecord(document.Parameters) ? document.Parameters : {}),
    ...Object.keys(resources),
    ...PSEUDO_PARAMETERS,
  ]);
  const problems: { where: string; target: string }[] = [];
  const check = (where: string) => (target: string) => {
    if (!known.has(target)) problems.push({ where, target });
  };
  for (const [name, resource] of Object.entries(resources)) {
    if (!isRecord(resource)) continue;
    const dependsOn = resource.DependsOn;
    for (const target of Array.isArray(dependsOn) ? dependsOn : dependsOn === undefined ? [] : [dependsOn]) {
      if (typeof target === 'string' && !Object.hasOwn(resources, target)) {
        problems.push({ where: `resource ${name} DependsOn`, target });
      }
    }
    visitReferences(resource, check(`resource ${name}`));
  }
  if (isRecord(document.Outputs)) {
    for (const [name, output] of Object.entries(document.Outputs))
      visitReferences(output, check(`output ${name}`));
  }
  return problems;
}

/**
 * Outputs whose value refers to a NoEcho parameter (Ref, or ${Name} in a
 * Sub). Such an output prints the secret in the clear, also when the value
 * was kept from an earlier deploy and this run never saw it: these outputs
 * are masked by name, whatever their value.
 */
function outputsEchoingNoEcho(
  document: Record<string, unknown>,
  parameters: ReadonlyMap<string, TemplateParameter>,
): Set<string> {
  const secret = new Set([...parameters.values()].filter((p) => p.noEcho).map((p) => p.name));
  const echoing = new Set<string>();
  if (secret.size === 0 || !isRecord(document.Outputs)) return echoing;
  for (const [name, output] of Object.entries(document.Outputs)) {
    if (!isRecord(output)) continue;
    visitReferences(output.Value, (target) => {
      if (secret.has(target)) echoing.add(name);
    });
  }
  return echoing;
}
