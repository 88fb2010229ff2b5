/** Recognising AWS service errors by their code, which is stable where messages are not. */

export function isAwsError(error: unknown, name: string): error is Error & { name: string } {
  return error instanceof Error && (error.name === name || (error as { Code?: string }).Code === name);
}

/**
 * CloudFormation's answer for a stack that does not exist (DescribeStacks,
 * DescribeStackEvents): a ValidationError whose message says so. AWS gives no
 * more specific code, so the text is the only discriminator; the code is
 * checked first, so no other failure can be taken for a missing stack.
 */
export function isStackMissing(error: unknown): boolean {
  return isAwsError(error, 'ValidationError') && /does not exist/.test(error.message);
}

/**
 * The endpoint answered with a body the SDK could not parse as an AWS
 * document (an HTML error page, an emulator without this API): the SDK's
 * XML and JSON parsers attach the raw body as `$responseBodyText` exactly then.
 */
export function isUnparsableResponse(error: unknown): boolean {
  return typeof error === 'object' && error !== null && '$responseBodyText' in error;
}
