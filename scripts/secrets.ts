/** Recognises values that must never reach a log, a report or a dotenv file. */

/** GitLab token prefixes (runner, personal, deploy, pipeline trigger, CI build) and PEM private keys. */
const SECRET_VALUE =
  /\b(glrt|glpat|gldt|glptt|glcbt|GR1348941)[-_]?[A-Za-z0-9_-]{8,}|-----BEGIN [A-Z ]*PRIVATE KEY-----/;
/** The same shapes, every occurrence, for redacting free text. */
const SECRET_VALUES_IN_TEXT =
  /\b(glrt|glpat|gldt|glptt|glcbt|GR1348941)[-_]?[A-Za-z0-9_-]{8,}|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g;
/** AWS access key ids (AKIA/ASIA + 16) and 40-character secret keys (base64 with upper and lower case). */
const AWS_KEY_IN_TEXT = /\b(AKIA|ASIA)[A-Z0-9]{16}\b|(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])/g;
/** A git or SHA-1 digest is 40 lowercase hex characters: not a key. */
const looksLikeAwsSecretKey = (run: string) => /[A-Z]/.test(run) && /[a-z]/.test(run);
const SECRET_NAME = /token|secret|password|passwd|private.?key|credential/i;

export function looksLikeSecretValue(value: string): boolean {
  return SECRET_VALUE.test(value);
}

export function looksLikeSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Names that mention a secret but hold only where it lives or what kind it is. */
const REFERENCE_SUFFIX = /(Name|Arn|Kind|Id|Ids|Url|Path|Source|Parameter)$/;

/**
 * The one rule every printer uses (logs, reports, merge request notes, dotenv):
 * a value is secret when it looks like a token or key, or when its name says
 * it is one (a parameter "ApiToken", not "TokenParameterName").
 */
export function isSecret(name: string, value: string): boolean {
  return looksLikeSecretValue(value) || (looksLikeSecretName(name) && !REFERENCE_SUFFIX.test(name));
}

/**
 * Masks every token-shaped value in a message before it leaves the process:
 * AWS and emulator messages are passed through as they come, and they may
 * quote a parameter value. The one redaction every log line goes through
 * (log.ts), so no caller has to remember it. Known secret values (a runner
 * token read from the environment) are masked wherever they appear.
 */
export function redactSecrets(text: string, knownSecrets: Iterable<string> = []): string {
  let redacted = text;
  for (const secret of knownSecrets) {
    if (secret.length >= 8) redacted = redacted.split(secret).join('****');
  }
  return redacted
    .replace(SECRET_VALUES_IN_TEXT, (match, prefix: string | undefined) =>
      prefix && !match.startsWith('-----') ? `${prefix}-****` : '****',
    )
    .replace(AWS_KEY_IN_TEXT, (match) =>
      match.startsWith('AKIA') || match.startsWith('ASIA') || looksLikeAwsSecretKey(match) ? '****' : match,
    );
}
