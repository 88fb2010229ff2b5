/** Recognising AWS service errors by their code, which is stable where messages are not. */

export function isAwsError(error: unknown, name: string): error is Error & { name: string } {
  return error instanceof Error && (error.name === name || (error as { Code?: string }).Code === name);
}
