/** The one test for "a mapping" in a parsed YAML or JSON document: an object that is not null or a list. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
