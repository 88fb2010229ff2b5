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
  job_imds_protect: 'Block-JobImds',
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
  token_pin_no_rotation: 'Clear-RunnerTokenExpiry',
  _token_rewrite_config: 'Write-RunnerTokenConfig',
  token_parameter_version: 'Get-TokenParameterVersion',
  token_config_value: 'Get-RunnerConfigToken',
  token_watch: 'Watch-RunnerToken',
  token_watch_due: 'Test-TokenWatchDue',
  token_sync: 'Sync-RunnerToken',
  runner_write_global_config: 'Write-RunnerConfig',
  runner_cache_toml: 'Get-RunnerCacheToml',
  runner_is_registered: 'Test-RunnerRegistered',
  runner_register: 'Register-Runner',
  runner_verify: 'Test-RunnerVerified',
  runner_service_start: 'Start-RunnerService',
  runner_unit_state: 'Get-RunnerServiceState',
  runner_main_running: 'Test-RunnerMainRunning',
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
  runner_settings_apply: 'Add-RunnerExtraSettings',
  agent_main: 'Invoke-LifecycleAgent',
  drain_state_save: 'Save-DrainState',
  drain_state_load: 'Read-DrainState',
  drain_apply_spot: 'Set-DrainSpotNotice',
  drain_begin: 'Start-Drain',
  drain_wait_for_runner: 'Wait-DrainRunner',
  drain_heartbeat_if_due: 'Send-DrainHeartbeatIfDue',
  drain_unregister: 'Invoke-DrainUnregister',
  drain_complete_once: 'Complete-DrainOnce',
  drain_finish: 'Complete-Drain',
  drain_resume: 'Resume-Drain',
  runner_poll: 'Invoke-RunnerPoll',
  metrics_publish_background: 'Start-FleetMetricsPublish',
};
// Platform plumbing with no counterpart, and why.
const LINUX_ONLY = new Set([
  'job_imds_apply', // iptables rules by job user; Windows jobs share the runner's account (lib/Job-Imds.ps1)
  'job_imds_block', // the same, installed for the boot
  'job_imds_user', // the job user from the runner unit's ExecStart --user
  'log_info',
  'log_warn',
  'log_error', // PowerShell passes the level to Write-FleetLog
  '_imds_fetch', // curl status handling; Invoke-WebRequest throws instead
  'pkg_kind',
  'pkg_install', // dnf/apt; Windows installs the runner binary and two MSIs directly
  'runner_install_dropin', // systemd drop-in; the Windows service maps stop to SIGQUIT itself
  '_resume_unit_remove', // systemd unit cleanup; Unregister-ScheduledTask inline
  '_bootstrap_on_err',
  '_bootstrap_on_exit', // trap handlers; try/catch in Invoke-Bootstrap
  'runner_package_arch', // deb/rpm file names; Windows downloads the one .exe
  'runner_docker_toml', // the [runners.docker] block docker.sh and docker-autoscaler.sh share; docker.ps1 is Windows' only docker script
  'runner_service_restart',
  'runner_restart_after_register', // the Linux package's post-install starts the service; Windows installs it only after register
  // FleetMode docker-autoscaler is Linux only (Rule DockerAutoscalerManagerIsLinux): docker-autoscaler.sh, lib/fleeting.sh.
  'executor_after_register',
  'fleeting_settings',
  'fleeting_periods_toml',
  'fleeting_autoscaler_toml',
  'fleeting_suspend_az_rebalance',
  'fleeting_service_dropin',
  'fleeting_install_plugin',
  '_drain_on_exit', // EXIT trap of a drain; catch/finally in Invoke-Drain
  '_drain_on_signal', // TERM/INT/HUP trap; a stopped scheduled task is ended without running any handler, the state stays
]);
/** Linux scripts with no Windows counterpart, for the reason above. */
const LINUX_ONLY_SCRIPTS = new Set(['docker-autoscaler', 'lib/fleeting']);
const WINDOWS_ONLY = new Set([
  'Get-Setting', // environment override helper (bash uses ${VAR:-default})
  'Protect-RunnerFile', // icacls; chmod 0600 in bash
  'Install-RunnerService', // gitlab-runner install (Windows service); the Linux package ships the unit
  'Get-ExecutorImage', // docker.ps1 helper
  // Extras.ps1 helpers; lib/runner_settings.py does their work on Linux.
  'ConvertTo-TomlKey',
  'ConvertTo-TomlValue',
  'Get-TomlLineKey',
  'Add-TomlTableSettings',
  'Assert-RunnerStopIsGraceful', // Windows service stop drains only since gitlab-runner 13.10.0; the Linux drop-in sends SIGQUIT itself
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
    expect(base(psFiles, windowsDir, '.ps1')).toEqual(
      base(shFiles, linuxDir, '.sh').filter((name) => !LINUX_ONLY_SCRIPTS.has(name)),
    );
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
    expect(read('lifecycle-agent.ps1')).toMatch(/Start-FleetMetricsPublish \$busy \$concurrent/);
    expect(lifecycle).toMatch(/Publish-FleetMetrics \$Busy \$Concurrent -NoWait/);
  });

  it('the drain waits on the service process, not on the service status', () => {
    const agent = read('lifecycle-agent.ps1');
    const wait = agent.slice(
      agent.indexOf('function Wait-DrainRunner'),
      agent.indexOf('function Invoke-DrainUnregister'),
    );
    expect(wait).toMatch(/while \(Test-RunnerMainRunning\)/);
    const runner = read('lib/Runner.ps1');
    const main = runner.slice(
      runner.indexOf('function Test-RunnerMainRunning'),
      runner.indexOf('function Get-RunnerMetric'),
    );
    expect(main).toMatch(/\$service\.ProcessId/);
    expect(main).toMatch(/Get-Process -Id \$runnerPid/);
  });

  it('unregister and CONTINUE run in finally, whatever failed before them, and the unregister is bounded', () => {
    const agent = read('lifecycle-agent.ps1');
    const drain = agent.slice(
      agent.indexOf('function Invoke-Drain'),
      agent.indexOf('function Wait-DrainRunner'),
    );
    expect(drain).toMatch(/catch \{[\s\S]*Stop-RunnerForcefully[\s\S]*\} finally \{\s*Complete-Drain\s*\}/);
    const complete = agent.slice(
      agent.indexOf('function Complete-Drain {'),
      agent.indexOf('function Resume-Drain'),
    );
    expect(complete.indexOf('Invoke-DrainUnregister')).toBeLessThan(complete.indexOf('Complete-DrainOnce'));
    const runner = read('lib/Runner.ps1');
    const unregister = runner.slice(runner.indexOf('function Unregister-RunnerManager'));
    expect(unregister).toMatch(/WaitForExit\(\$MaxSeconds \* 1000\)/);
    expect(unregister).toMatch(/Stop-Process -Id \$process\.Id/);
  });

  it('refuses gitlab-runner versions whose Windows service stop is not graceful (before 13.10.0)', () => {
    const runner = read('lib/Runner.ps1');
    expect(runner).toMatch(/\$script:RfGracefulServiceStopVersion = \[version\]'13\.10\.0'/);
    const install = runner.slice(
      runner.indexOf('function Install-GitLabRunner'),
      runner.indexOf('# Read-RunnerToken'),
    );
    expect(install.match(/Assert-RunnerStopIsGraceful/g)?.length).toBe(3);
  });

  it('a 401 from IMDS renews the token once inside the same read', () => {
    const imds = read('lib/Imds.ps1');
    const get = imds.slice(
      imds.indexOf('function Get-ImdsValue'),
      imds.indexOf('function Get-ImdsInstanceId'),
    );
    expect(get).toMatch(/\$status -eq 401\) \{\s*\$script:ImdsToken = ''\s*if \(-not \$renewed\)/);
  });

  it('the CloudWatch agent is installed from the official MSI when missing', () => {
    expect(read('lib/Packages.ps1')).toMatch(/windows\/amd64\/latest\/amazon-cloudwatch-agent\.msi/);
  });
});
