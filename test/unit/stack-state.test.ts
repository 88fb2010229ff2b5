/** What a stack's state allows before a change set: the one place deploy and preview ask. */
import type { Stack } from '@aws-sdk/client-cloudformation';
import { describe, expect, it } from 'vitest';
import { OperationError } from '../../scripts/errors.ts';
import { checkPreviewable, refuseStuck, stuckAdvice } from '../../scripts/stack/stack-state.ts';

const stack = (StackStatus: string): Stack => ({
  StackName: 'fleet',
  StackStatus: StackStatus as NonNullable<Stack['StackStatus']>,
  CreationTime: new Date(),
});
const failureOf = (run: () => void) => {
  try {
    run();
  } catch (error) {
    return error as OperationError;
  }
  return undefined;
};

describe('refuseStuck', () => {
  it.each([
    ['UPDATE_ROLLBACK_FAILED', 'continue-update-rollback --stack-name fleet'],
    ['DELETE_FAILED', 'delete-stack --stack-name fleet --retain-resources'],
    ['ROLLBACK_FAILED', 'delete-stack --stack-name fleet'],
    ['CREATE_FAILED', 'rollback disabled'],
    ['IMPORT_ROLLBACK_FAILED', 'continue-update-rollback --stack-name fleet'],
  ])('refuses %s with advice naming the stack', (status, advice) => {
    const failure = failureOf(() => refuseStuck(stack(status), 'fleet', 'deployed to'));
    expect(failure).toBeInstanceOf(OperationError);
    expect(failure?.message).toBe(`stack fleet is ${status} and cannot be deployed to`);
    expect(failure?.details).toEqual([expect.stringContaining(advice)]);
  });

  it.each(['UPDATE_COMPLETE', 'ROLLBACK_COMPLETE', 'UPDATE_IN_PROGRESS'])('lets %s through', (status) => {
    expect(failureOf(() => refuseStuck(stack(status), 'fleet', 'deployed to'))).toBeUndefined();
  });

  it('lets a missing stack through, and has no advice for a status that is not stuck', () => {
    expect(failureOf(() => refuseStuck(undefined, 'fleet', 'deployed to'))).toBeUndefined();
    expect(stuckAdvice('UPDATE_COMPLETE', 'fleet')).toBe('');
  });
});

describe('checkPreviewable', () => {
  it.each([
    ['UPDATE_IN_PROGRESS', 'stack fleet is UPDATE_IN_PROGRESS: another operation is running'],
    ['DELETE_FAILED', 'stack fleet is DELETE_FAILED and cannot be previewed'],
    ['ROLLBACK_COMPLETE', 'stack fleet is ROLLBACK_COMPLETE (its first create failed)'],
  ])('refuses %s', (status, message) => {
    expect(failureOf(() => checkPreviewable(stack(status), 'fleet'))?.message).toBe(message);
  });

  it.each(['UPDATE_COMPLETE', 'REVIEW_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE'])('previews %s', (status) => {
    expect(failureOf(() => checkPreviewable(stack(status), 'fleet'))).toBeUndefined();
  });
});
