import { describe, expect, it } from 'vitest';
import { type CheckResult, renderJUnit } from '../../scripts/render/junit.ts';

const render = (cases: CheckResult[]) =>
  renderJUnit({ name: 'runner-fleet smoke-test', timestamp: '2026-11-28T10:00:00.000Z', cases });

describe('renderJUnit', () => {
  it('counts tests, failures and skips on the suite and the root', () => {
    const xml = render([
      { classname: 'capacity', name: 'in service', status: 'passed', seconds: 12.3456 },
      { classname: 'i-1', name: 'online', status: 'failed', message: 'offline' },
      { classname: 'i-1', name: 'version', status: 'skipped', message: 'no manager' },
    ]);
    const counts = 'tests="3" failures="1" errors="0" skipped="1" time="12.346"';
    expect(xml).toContain(`<testsuites name="runner-fleet smoke-test" ${counts}>`);
    expect(xml).toContain(
      `<testsuite name="runner-fleet smoke-test" ${counts} timestamp="2026-11-28T10:00:00.000Z">`,
    );
    expect(xml).toContain('<testcase classname="capacity" name="in service" time="12.346"/>');
    expect(xml).toContain(
      '<testcase classname="i-1" name="online" time="0.000">\n      <failure message="offline">offline</failure>\n    </testcase>',
    );
    expect(xml).toContain('<skipped message="no manager"/>');
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
  });

  it('an empty run is a valid empty suite', () => {
    expect(render([])).toContain('tests="0" failures="0" errors="0" skipped="0" time="0.000"');
  });

  it('escapes markup in attributes and text, and drops characters XML cannot hold', () => {
    const xml = render([
      {
        classname: 'a&b',
        name: `<"quoted"> & 'single'`,
        status: 'failed',
        message: 'line one\nline\ttwo\r',
        details: 'x < y && y > z ]]> \u0007bell',
      },
    ]);
    expect(xml).toContain('classname="a&amp;b"');
    expect(xml).toContain('name="&lt;&quot;quoted&quot;&gt; &amp; &apos;single&apos;"');
    expect(xml).toContain('message="line one&#10;line&#9;two&#13;"');
    expect(xml).toContain('>x &lt; y &amp;&amp; y &gt; z ]]&gt; \uFFFDbell</failure>');
    expect(xml).not.toContain('\u0007');
    // Nothing unescaped is left between tags.
    for (const line of xml.split('\n').slice(1)) {
      const inner = line.replace(/<[^<>]*>/g, '');
      expect(inner).not.toMatch(/[<>]/);
    }
  });
});
