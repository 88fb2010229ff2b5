// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} here is CloudFormation Fn::Sub syntax, not a JS template.
// The Windows UserData bootstrap is PowerShell inside Fn::Sub, and nothing
// runs PowerShell here: render it from the parsed template the way
// CloudFormation would (Fn::If on UseWindows picks the branch, one whole
// Fn::Sub script; every ${...} replaced by a plausible parameter value; a
// Fn::Join or a nested Fn::If is rendered too should one appear) and parse it with
// tree-sitter-powershell. The Linux branch is checked with bash -n in
// runner-fleet.test.ts ('renders a Linux bootstrap that bash parses').
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Language, Parser } from 'web-tree-sitter';
import { loadTemplate } from './cfn-yaml.ts';

const root = join(import.meta.dirname, '..', '..');
const grammar = join(root, 'node_modules', 'tree-sitter-powershell', 'tree-sitter-powershell.wasm');
const template = loadTemplate(join(root, 'cfn', 'runner-fleet.yaml'));

// Every Fn::Sub variable the UserData may use, with a value each parameter's
// AllowedPattern/AllowedValues admits. An unknown variable fails the render,
// so a new one must be given a value here.
const PLAUSIBLE: Record<string, string> = {
  'AWS::StackName': 'runners-prod',
  'AWS::Region': 'eu-west-1',
  RunnerConfigBundleUrl: 's3://runner-fleet-bundles/runner-configs/runner-configs-windows.zip',
  RunnerConfigBundleSha256: 'a'.repeat(64),
  RunnerExecutor: 'docker',
  Executor: 'docker',
  // JSON with quotes and braces: it must stay literal inside the here-string.
  RunnerExtraSettings: '{"environment":["A=1"],"output_limit":8192}',
  RunnerDockerExtraSettings:
    '{"volumes":["C:\\\\cache"],"services":[{"name":"mcr.microsoft.com/mssql/server"}]}',
  LaunchHook: 'runner-fleet-launch',
  TerminateHook: 'runner-fleet-terminate',
  LogGroup: '/runner-fleet/runners-prod',
  GitLabUrl: 'https://gitlab.com',
  RunnerVersion: '17.11.1',
  RunnerConcurrentJobs: '4',
  RunnerDefaultDockerImage: 'mcr.microsoft.com/windows/servercore:ltsc2022',
  CacheBucket: 'runners-prod-cache-abc',
  TokenSource: 'ssm:/runner-fleet/prod/token',
  RunnerTokenKind: 'authentication',
  RunnerTags: 'aws,windows',
  PatchScope: 'security',
  LifecycleHeartbeatTimeout: '600',
  MaxDrainSeconds: '10800',
  MetricsNamespace: 'RunnerFleet',
};

/** Fn::Sub text with the variables replaced; ${!Literal} becomes ${Literal}, as in CloudFormation. */
function substitute(text: string): string {
  return text.replace(/\$\{(!?)([^}]*)\}/g, (_match, bang: string, name: string) => {
    if (bang) return `\${${name}}`;
    const value = PLAUSIBLE[name];
    if (value === undefined) throw new Error(`no plausible value for Fn::Sub variable \${${name}}`);
    return value;
  });
}

/** One UserData piece rendered for one OS: Fn::If on UseWindows picks the branch. */
function render(node: unknown, windows: boolean): string {
  if (typeof node === 'string') return node;
  if (node && typeof node === 'object' && !Array.isArray(node)) {
    const record = node as Record<string, unknown>;
    if ('Fn::If' in record) {
      const [condition, whenTrue, whenFalse] = record['Fn::If'] as [string, unknown, unknown];
      // docker-autoscaler mode is Linux only (Rule DockerAutoscalerManagerIsLinux).
      if (condition === 'UseDockerAutoscaler') return render(whenFalse, windows);
      if (condition !== 'UseWindows') throw new Error(`unexpected condition ${condition} in UserData`);
      return render(windows ? whenTrue : whenFalse, windows);
    }
    if ('Fn::Sub' in record) {
      const sub = record['Fn::Sub'];
      return substitute(Array.isArray(sub) ? (sub[0] as string) : (sub as string));
    }
    if ('Fn::Join' in record) {
      const [separator, parts] = record['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => render(part, windows)).join(separator);
    }
  }
  throw new Error(`unexpected UserData piece ${JSON.stringify(node)}`);
}

function userData(windows: boolean): string {
  const data = template.Resources.LaunchTemplate?.Properties?.LaunchTemplateData as Record<string, unknown>;
  const base64 = (data.UserData as Record<string, unknown>)['Fn::Base64'];
  return render(base64, windows);
}

/** The script between EC2Launch's <powershell> tags (the tags themselves are not PowerShell). */
function powershellBody(windowsUserData: string): string {
  const match = /^<powershell>\n([\s\S]*)\n<\/powershell>\n?$/.exec(windowsUserData);
  if (!match) throw new Error('Windows UserData is not one <powershell>...</powershell> block');
  return match[1] as string;
}

await Parser.init();
const parser = new Parser();
parser.setLanguage(await Language.load(grammar));

function hasError(source: string): boolean {
  const tree = parser.parse(source);
  if (!tree) throw new Error('parser returned no tree');
  return tree.rootNode.hasError;
}

/** Where the parse went wrong, for a readable failure. */
function firstError(source: string): string {
  const tree = parser.parse(source);
  const stack = tree ? [tree.rootNode] : [];
  while (stack.length) {
    const node = stack.shift();
    if (!node) continue;
    if (node.isError || node.isMissing) {
      const line = node.startPosition.row;
      return `line ${line + 1}: ${source.split('\n')[line]}`;
    }
    for (const child of node.children) if (child) stack.push(child);
  }
  return 'none';
}

describe('runner-fleet.yaml Windows UserData', () => {
  const windows = userData(true);
  const body = powershellBody(windows);

  it('renders the Windows branch with every Fn::Sub variable substituted', () => {
    expect(windows.startsWith('<powershell>\n')).toBe(true);
    expect(body).toContain("$bundleSha256 = 'aaaaaaaa");
    expect(body).toContain("& (Join-Path $dir 'docker.ps1')");
    expect(body).toContain('RF_METRICS_NAMESPACE=RunnerFleet');
    expect(body).not.toMatch(/\$\{[A-Za-z]+::[A-Za-z]+\}/);
    expect(body).not.toContain('#!/bin/bash');
    expect(() => substitute('${NotAParameter}')).toThrow(/NotAParameter/);
  });

  it('parses as PowerShell without errors', () => {
    expect(firstError(body)).toBe('none');
    expect(hasError(body)).toBe(false);
  });

  it('the check can fail: broken versions of the same bootstrap are flagged', () => {
    // An unclosed if condition, and the try block losing its closing brace.
    expect(
      hasError(body.replace('if ($actual -ne $bundleSha256) {', 'if ($actual -ne $bundleSha256 {')),
    ).toBe(true);
    expect(hasError(body.replace(/\n\} catch \{\n/, '\n catch {\n'))).toBe(true);
    // The fleet.env here-string only ends at a '@ in column 0: a YAML
    // indentation slip that indents it leaves the here-string unterminated.
    expect(body).toContain("\n'@\n");
    expect(hasError(body.replace("\n'@\n", "\n  '@\n"))).toBe(true);
    expect(hasError('function Broken {\n  if ($x -eq 1 {\n    Write-Output "x"\n}\n')).toBe(true);
    // The <powershell> tags are not PowerShell: left in, they are flagged too.
    expect(hasError(windows)).toBe(true);
  });
});
