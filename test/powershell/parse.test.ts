// PowerShell cannot run here: parse every runner_configs/windows/**/*.ps1 with
// tree-sitter-powershell, and check that the Windows scripts define the same
// steps as the Linux ones (STEP_MAP below, checked in both directions).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Language, Parser } from 'web-tree-sitter';

const root = join(import.meta.dirname, '..', '..');
const windowsDir = join(root, 'runner_configs', 'windows');
const linuxDir = join(root, 'runner_configs', 'linux');
const grammar = join(root, 'node_modules', 'tree-sitter-powershell', 'tree-sitter-powershell.wasm');

// bash function -> PowerShell function. Every function of the Linux scripts
// is either here or in LINUX_ONLY; every PowerShell function is either here
// or in WINDOWS_ONLY.
const STEP_MAP: Record<string, string> = {
  log: 'Write-FleetLog',
  die: 'Stop-WithError',
  rf_load_env: 'Read-FleetEnv',
  rf_require: 'Assert-FleetSettings',
  retry: 'Invoke-WithRetry',
  step: 'Invoke-Step',
  write_if_changed: 'Write-FileIfChanged',
  marker_set: 'Set-Marker',
  marker_has: 'Test-Marker',
  now_epoch: 'Get-EpochNow',
  _imds_refresh_token: 'Update-ImdsToken',
  imds_get: 'Get-ImdsValue',
  imds_instance_id: 'Get-ImdsInstanceId',
  imds_region: 'Get-ImdsRegion',
  imds_asg_name: 'Get-ImdsAsgName',
  imds_lifecycle_state: 'Get-ImdsLifecycleState',
  imds_spot_action: 'Get-ImdsSpotAction',
  imds_rebalance: 'Get-ImdsRebalance',
  fleet_identity: 'Initialize-FleetIdentity',
  job_imds_block: 'Block-JobImds',
  _asg: 'Invoke-Aws',
  lifecycle_heartbeat: 'Send-LifecycleHeartbeat',
  lifecycle_complete: 'Complete-LifecycleAction',
  heartbeat_loop_start: 'Start-HeartbeatLoop',
  heartbeat_loop_stop: 'Stop-HeartbeatLoop',
  scale_in_protection_set: 'Set-ScaleInProtection',
  metrics_publish: 'Publish-FleetMetrics',
  memory_utilization: 'Get-MemoryUtilization',
  runner_system_id: 'Get-RunnerSystemId',
  runner_write_system_id: 'Write-RunnerSystemId',
  runner_installed_version: 'Get-RunnerInstalledVersion',
  runner_install: 'Install-GitLabRunner',
  runner_read_token: 'Read-RunnerToken',
  runner_write_global_config: 'Write-RunnerConfig',
  runner_cache_toml: 'Get-RunnerCacheToml',
  runner_is_registered: 'Test-RunnerRegistered',
  runner_register: 'Register-Runner',
  runner_verify: 'Test-RunnerVerified',
  runner_service_start: 'Start-RunnerService',
  runner_service_active: 'Test-RunnerServiceActive',
  runner_metric: 'Get-RunnerMetric',
  runner_busy_jobs: 'Get-RunnerBusyJobs',
  runner_drain_begin: 'Start-RunnerDrain',
  runner_force_stop: 'Stop-RunnerForcefully',
  runner_unregister: 'Unregister-RunnerManager',
  fleet_settings: 'Initialize-FleetSettings',
  os_patch: 'Install-OsPatches',
  os_reboot_required: 'Test-OsRebootRequired',
  os_reboot_if_required: 'Restart-OsIfRequired',
  logs_ship: 'Install-LogShipping',
  agent_install: 'Install-LifecycleAgent',
  launch_complete: 'Complete-Launch',
  bootstrap_main: 'Invoke-Bootstrap',
  executor_prepare: 'Initialize-ExecutorPrerequisites',
  executor_template: 'Get-ExecutorTemplate',
  executor_name: 'Get-ExecutorName',
  executor_register_args: 'Get-ExecutorRegisterArgs',
  agent_drain: 'Invoke-Drain',
  spot_deadline: 'Get-SpotDeadline',
  spot_notice_epoch: 'Get-SpotNoticeEpoch',
  spot_notice_pending: 'Get-SpotNoticePending',
  cwagent_install: 'Install-CloudWatchAgent',
  aws_cli_install: 'Install-AwsCli',
  protection_update: 'Update-ScaleInProtection',
  agent_main: 'Invoke-LifecycleAgent',
};
// Platform plumbing with no counterpart, and why.
const LINUX_ONLY = new Set([
  'job_imds_apply', // iptables rules by job user; Windows jobs share the runner's account (lib/Job-Imds.ps1)
  'log_info',
  'log_warn',
  'log_error', // PowerShell passes the level to Write-FleetLog
  '_imds_fetch', // curl status handling; Invoke-WebRequest throws instead
  '_pkg_kind',
  'pkg_install', // dnf/apt; Windows installs the runner binary directly
  'runner_install_dropin', // systemd drop-in; the Windows service maps stop to SIGQUIT itself
  '_resume_unit_remove', // systemd unit cleanup; Unregister-ScheduledTask inline
  '_bootstrap_on_err',
  '_bootstrap_on_exit', // trap handlers; try/catch in Invoke-Bootstrap
  'runner_package_arch', // deb/rpm file names; Windows downloads the one .exe
  'runner_service_restart',
  'runner_restart_after_register', // the Linux package's post-install starts the service; Windows installs it only after register
]);
const WINDOWS_ONLY = new Set([
  'Get-Setting', // environment override helper (bash uses ${VAR:-default})
  'Protect-RunnerFile', // icacls; chmod 0600 in bash
  'Install-RunnerService', // gitlab-runner install (Windows service); the Linux package ships the unit
  'Get-ExecutorImage', // docker.ps1 helper
]);

function filesUnder(dir: string, suffix: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return filesUnder(path, suffix);
    return name.endsWith(suffix) ? [path] : [];
  });
}

// Top-level await: the describe blocks below parse while collecting tests.
await Parser.init();
const parser = new Parser();
parser.setLanguage(await Language.load(grammar));

function parse(source: string) {
  const tree = parser.parse(source);
  if (!tree) throw new Error('parser returned no tree');
  return tree;
}

function psFunctions(source: string): string[] {
  const names: string[] = [];
  const walk = (node: NonNullable<ReturnType<typeof parse>['rootNode']>) => {
    if (node.type === 'function_statement') {
      const name = node.namedChildren.find((c) => c?.type === 'function_name');
      if (name) names.push(name.text);
    }
    for (const child of node.namedChildren) if (child) walk(child);
  };
  walk(parse(source).rootNode);
  return names;
}

function bashFunctions(source: string): string[] {
  return [...source.matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*)\(\)\s*\{/gm)].map((m) => m[1] as string);
}

const psFiles = filesUnder(windowsDir, '.ps1');
const shFiles = filesUnder(linuxDir, '.sh');

describe('PowerShell syntax', () => {
  it('finds the Windows scripts', () => {
    const names = psFiles.map((f) => relative(windowsDir, f)).sort();
    expect(names).toEqual(
      expect.arrayContaining([
        'docker.ps1',
        'shell.ps1',
        'lifecycle-agent.ps1',
        'lib/Imds.ps1',
        'lib/Runner.ps1',
      ]),
    );
  });

  it.each(psFiles.map((f) => [relative(root, f), f]))('%s parses without errors', (_name, file) => {
    expect(parse(readFileSync(file, 'utf8')).rootNode.hasError).toBe(false);
  });

  it('the check can fail: a broken snippet is flagged', () => {
    expect(parse('function Broken {\n  if ($x -eq 1 {\n    Write-Output "x"\n}\n').rootNode.hasError).toBe(
      true,
    );
    expect(parse('function Fine { if ($x -eq 1) { Write-Output "x" } }').rootNode.hasError).toBe(false);
  });

  it('every script starts in strict mode', () => {
    for (const file of psFiles) {
      const text = readFileSync(file, 'utf8');
      expect(text, relative(root, file)).toMatch(/Set-StrictMode -Version Latest/);
    }
    for (const name of ['docker.ps1', 'shell.ps1', 'lifecycle-agent.ps1']) {
      expect(readFileSync(join(windowsDir, name), 'utf8')).toMatch(/\$ErrorActionPreference = 'Stop'/);
    }
  });
});

describe('Linux and Windows define the same steps', () => {
  const ps = new Set(psFiles.flatMap((f) => psFunctions(readFileSync(f, 'utf8'))));
  const sh = new Set(shFiles.flatMap((f) => bashFunctions(readFileSync(f, 'utf8'))));

  it('the function extraction works on a sample (so the checks below can fail)', () => {
    expect(psFunctions('function Get-A { 1 }\nfunction Set-B([int]$x) { $x }')).toEqual(['Get-A', 'Set-B']);
    expect(bashFunctions('a() { :; }\n  b_c() {\n  :\n}')).toEqual(['a', 'b_c']);
  });

  it('the same script names on both sides', () => {
    const base = (files: string[], dir: string, ext: string) =>
      files.map((f) => relative(dir, f).replace(ext, '').toLowerCase()).sort();
    expect(base(psFiles, windowsDir, '.ps1')).toEqual(base(shFiles, linuxDir, '.sh'));
  });

  it.each(Object.entries(STEP_MAP))('bash %s has PowerShell %s', (bash, power) => {
    expect(sh.has(bash), `bash function ${bash} missing`).toBe(true);
    expect(ps.has(power), `PowerShell function ${power} missing`).toBe(true);
  });

  it('every bash function is mapped or listed as Linux-only', () => {
    const unmapped = [...sh].filter((f) => !(f in STEP_MAP) && !LINUX_ONLY.has(f));
    expect(unmapped).toEqual([]);
  });

  it('every PowerShell function is mapped or listed as Windows-only', () => {
    const mapped = new Set(Object.values(STEP_MAP));
    const unmapped = [...ps].filter((f) => !mapped.has(f) && !WINDOWS_ONLY.has(f));
    expect(unmapped).toEqual([]);
  });
});

describe('Windows behaviour that parsing alone would not catch', () => {
  const read = (name: string) => readFileSync(join(windowsDir, name), 'utf8');

  it('the shell executor uses one shell, Windows PowerShell, in the template and at register', () => {
    const shell = read('shell.ps1');
    expect(shell).toMatch(/shell = `"powershell`"/);
    expect(shell).toMatch(/@\('--shell', 'powershell'\)/);
    expect(shell).not.toMatch(/shell = `"pwsh`"/);
  });

  it('the forced stop sends no second sc.exe stop to a STOP_PENDING service and ends the process by PID', () => {
    const runner = read('lib/Runner.ps1');
    const body = runner.slice(
      runner.indexOf('function Stop-RunnerForcefully'),
      runner.indexOf('function Unregister-RunnerManager'),
    );
    expect(body).toMatch(/'Stop Pending'/);
    expect(body).toMatch(/Stop-Process -Id \$runnerPid/);
    expect(body).not.toMatch(/Get-Process -Name/);
    expect(body).toMatch(/LASTEXITCODE/);
  });

  it('the spot deadline keeps room for the forced-stop wait and the unregister reserve', () => {
    const agent = read('lifecycle-agent.ps1');
    const body = agent.slice(agent.indexOf('function Get-SpotDeadline'));
    expect(body).toMatch(/RfSpotUnregisterReserveSeconds - \$script:RfForcedStopWaitSeconds/);
    expect(agent).toMatch(/Get-SpotNoticePending/);
  });

  it('the launch heartbeats start after identity and stop before CONTINUE and on failure', () => {
    const boot = read('lib/Bootstrap.ps1');
    const main = boot.slice(boot.indexOf('function Invoke-Bootstrap'));
    expect(main.indexOf('Start-HeartbeatLoop')).toBeGreaterThan(main.indexOf("Invoke-Step 'identity'"));
    expect(main.indexOf('Start-HeartbeatLoop')).toBeLessThan(main.indexOf("Invoke-Step 'patch'"));
    expect(boot).toMatch(/function Complete-Launch \{\s*Stop-HeartbeatLoop/);
    expect(main).toMatch(/catch \{\s*Stop-HeartbeatLoop/);
    expect(main).toMatch(/Test-RunnerRegistered[\s\S]*Unregister-RunnerManager[\s\S]*'ABANDON'/);
  });

  it('MemoryUtilization comes from Win32_OperatingSystem and goes out with the slot metrics', () => {
    const lifecycle = read('lib/Lifecycle.ps1');
    const memory = lifecycle.slice(
      lifecycle.indexOf('function Get-MemoryUtilization'),
      lifecycle.indexOf('function Publish-FleetMetrics'),
    );
    expect(memory).toMatch(/Get-CimInstance -ClassName Win32_OperatingSystem/);
    expect(memory).toMatch(/\(\$total - \$free\) \* 100 \/ \$total/);
    expect(memory).toMatch(/\$total = \[double\]\$os\.TotalVisibleMemorySize/);
    expect(memory).toMatch(/\$free = \[double\]\$os\.FreePhysicalMemory/);
    const publish = lifecycle.slice(lifecycle.indexOf('function Publish-FleetMetrics'));
    expect(publish).toMatch(
      /"MetricName=MemoryUtilization,Unit=Percent,Value=\$memory,Dimensions=\[\{\$dim\}\]"/,
    );
    expect(read('lifecycle-agent.ps1')).toMatch(/Publish-FleetMetrics \$busy \$concurrent/);
  });

  it('the CloudWatch agent is installed from the official MSI when missing', () => {
    expect(read('lib/Bootstrap.ps1')).toMatch(/windows\/amd64\/latest\/amazon-cloudwatch-agent\.msi/);
  });
});
