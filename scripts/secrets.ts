/** Recognises values that must never reach a log, a report or a dotenv file. */

/** GitLab token prefixes (runner, personal, deploy, pipeline trigger, CI build) and PEM private keys. */
const SECRET_VALUE =
  /\b(glrt|glpat|gldt|glptt|glcbt|GR1348941)[-_]?[A-Za-z0-9_-]{8,}|-----BEGIN [A-Z ]*PRIVATE KEY-----/;
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
