/** redactSecrets: the last gate every printed line passes. */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../scripts/log.ts';
import { redactSecrets } from '../../scripts/secrets.ts';

describe('redactSecrets', () => {
  it.each([
    [
      'parameter Environment=glrt-abcdefghij0123456789 is not allowed',
      'parameter Environment=glrt-**** is not allowed',
    ],
    ['token glpat-AbCdEfGh12345678 and glrt-xyzxyzxyz9', 'token glpat-**** and glrt-****'],
    ['key AKIAIOSFODNN7EXAMPLE in a message', 'key **** in a message'],
    ['secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.', 'secret ****.'],
    ['-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY----- done', '**** done'],
  ])('masks %j', (text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  it('leaves ordinary text alone: stack ids, git digests, the words glrt- and token', () => {
    const text =
      'arn:aws:cloudformation:us-east-1:123456789012:stack/fleet/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab commit 3f786850e387550fdab836ed7e6dc881de23001b: set a glrt- token';
    expect(redactSecrets(text)).toBe(text);
  });

  it('masks known secret values wherever they appear', () => {
    expect(redactSecrets('answered: my-plain-password-1 was refused', ['my-plain-password-1'])).toBe(
      'answered: **** was refused',
    );
  });

  it('is applied by the logger to every line', () => {
    const out: string[] = [];
    const log = createLogger({
      write: (t) => out.push(t),
      writeError: (t) => out.push(t),
      knownSecrets: ['hunter2-hunter2'],
    });
    log.info('token glrt-abcdefghij0123456789');
    log.error('AWS said: hunter2-hunter2 is invalid');
    expect(out.join('')).toBe('token glrt-****\nerror: AWS said: **** is invalid\n');
  });
});
