/** Pure rendering: event lines, change lines, failure reasons, dotenv reports, GitLab sections. */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../scripts/log.ts';
import { renderOutputsDotenv } from '../../scripts/render/dotenv.ts';
import { firstFailureReasons, formatChange, formatStackEvent } from '../../scripts/render/events.ts';

describe('event and change lines', () => {
  it('prints time, logical id, type, status and a one-line reason', () => {
    expect(
      formatStackEvent({
        StackId: 's',
        StackName: 's',
        EventId: '1',
        Timestamp: new Date('2026-11-28T10:00:01.123Z'),
        LogicalResourceId: 'Group',
        ResourceType: 'AWS::AutoScaling::AutoScalingGroup',
        ResourceStatus: 'UPDATE_FAILED',
        ResourceStatusReason: 'Bad\n  thing',
      }),
    ).toMatch(/^2026-11-28T10:00:01Z Group +AWS::AutoScaling::AutoScalingGroup +UPDATE_FAILED +Bad thing$/);
  });

  it.each([
    ['Add', undefined, '+ R AWS::X::Y'],
    ['Remove', undefined, '- R AWS::X::Y'],
    ['Modify', 'Conditional', '> R AWS::X::Y (replacement: Conditional)'],
  ] as const)('marks %s changes', (action, replacement, expected) => {
    expect(
      formatChange({
        Type: 'Resource',
        ResourceChange: {
          Action: action,
          LogicalResourceId: 'R',
          ResourceType: 'AWS::X::Y',
          Replacement: replacement,
        },
      }),
    ).toBe(expected);
  });

  it('puts causes before the cancellations they caused', () => {
    const base = { StackId: 's', StackName: 's', EventId: 'e', Timestamp: new Date() };
    expect(
      firstFailureReasons([
        {
          ...base,
          LogicalResourceId: 'A',
          ResourceType: 'T',
          ResourceStatus: 'CREATE_FAILED',
          ResourceStatusReason: 'Resource creation cancelled',
        },
        {
          ...base,
          LogicalResourceId: 'B',
          ResourceType: 'T',
          ResourceStatus: 'CREATE_FAILED',
          ResourceStatusReason: 'Access denied',
        },
        { ...base, LogicalResourceId: 'C', ResourceType: 'T', ResourceStatus: 'CREATE_COMPLETE' },
      ]),
    ).toEqual(['B (T) CREATE_FAILED: Access denied']);
  });
});

describe('dotenv report', () => {
  it('writes plain outputs and leaves out secrets, multi-line values and overflow', () => {
    const result = renderOutputsDotenv(
      [
        { OutputKey: 'GroupName', OutputValue: 'fleet-asg' },
        { OutputKey: 'Bucket-Name', OutputValue: 'b' },
        { OutputKey: 'RunnerToken', OutputValue: 'x' },
        { OutputKey: 'TokenParameterName', OutputValue: '/fleet/token' },
        { OutputKey: 'GitLabApiToken', OutputValue: 'plain-looking-value' },
        { OutputKey: 'Leak', OutputValue: 'glrt-abcdefghijklmnop' },
        { OutputKey: 'Echo', OutputValue: 'prefix-s3cr3t' },
        { OutputKey: 'Multi', OutputValue: 'a\nb' },
        { OutputKey: 'Huge', OutputValue: 'x'.repeat(6000) },
      ],
      ['s3cr3t'],
    );
    expect(result.text).toBe('GroupName=fleet-asg\nBucket_Name=b\nTokenParameterName=/fleet/token\n');
    expect(result.skipped.map((s) => s.key)).toEqual([
      'RunnerToken',
      'GitLabApiToken',
      'Leak',
      'Echo',
      'Multi',
      'Huge',
    ]);
  });
});

describe('log sections', () => {
  it('writes GitLab section markers in GitLab CI and plain headers elsewhere', async () => {
    const gitlab: string[] = [];
    const log = createLogger({
      write: (t) => gitlab.push(t),
      gitlabSections: true,
      now: () => new Date(1_700_000_000_000),
    });
    await log.section('Stack events', 'Stack events', async () => log.info('inside'), { collapsed: true });
    expect(gitlab.join('')).toBe(
      '\u001b[0Ksection_start:1700000000:stack_events_1[collapsed=true]\r\u001b[0KStack events\ninside\n\u001b[0Ksection_end:1700000000:stack_events_1\r\u001b[0K\n',
    );
    const plain: string[] = [];
    const plainLog = createLogger({ write: (t) => plain.push(t), gitlabSections: false });
    await plainLog.section('x', 'Header', async () => plainLog.info('inside'));
    expect(plain.join('')).toBe('--- Header\ninside\n');
  });
});
