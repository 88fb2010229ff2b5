/**
 * Reads a CloudFormation template from disk and extracts what the deployer
 * needs before talking to AWS: its parameters (to reject unknown keys and to
 * know which values are NoEcho) and the capabilities it must acknowledge.
 */
import { readFile } from 'node:fs/promises';
import type { Capability } from '@aws-sdk/client-cloudformation';
import { firstLine, InputError } from '../errors.ts';
import { AliasExpansionError, parseCloudFormationDocument } from './cfn-yaml.ts';
import { isRecord } from './records.ts';
import { outputsReferring, unresolvedReferences } from './template-references.ts';

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

export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return firstLine(error);
}

/** Outputs that echo a NoEcho parameter, whatever their value: masked by name. */
function outputsEchoingNoEcho(
  document: Record<string, unknown>,
  parameters: ReadonlyMap<string, TemplateParameter>,
): Set<string> {
  return outputsReferring(
    document,
    new Set([...parameters.values()].filter((p) => p.noEcho).map((p) => p.name)),
  );
}
