# Shared helpers for every runner-fleet script on Windows: paths, named
# timeouts, logging, the fleet.env parser and the settings derived from it,
# retry with back-off, step tracking. Dot-sourced, never run. Mirrors
# runner_configs/linux/lib/common.sh.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Get-Setting([string]$Name, $Default) {
    $value = [Environment]::GetEnvironmentVariable($Name)
    if ([string]::IsNullOrEmpty($value)) { return $Default }
    return $value
}

# ---- paths (production defaults; overridable like the Linux scripts) ----
$script:RfRoot = Get-Setting 'RF_INSTALL_DIR' 'C:\ProgramData\runner-fleet'
$script:RfEnvFile = Get-Setting 'RF_ENV_FILE' (Join-Path $script:RfRoot 'fleet.env')
$script:RfStateDir = Get-Setting 'RF_STATE_DIR' (Join-Path $script:RfRoot 'state')
$script:RfLogDir = Get-Setting 'RF_LOG_DIR' (Join-Path $script:RfRoot 'logs')
$script:RfRunnerDir = Get-Setting 'RF_RUNNER_CONFIG_DIR' 'C:\GitLab-Runner'
# The runner's Prometheus listener (config.toml listen_address), loopback only.
$script:RfRunnerListenAddress = Get-Setting 'RF_RUNNER_LISTEN_ADDRESS' '127.0.0.1:9252'
$script:RfRunnerMetricsUrl = Get-Setting 'RF_RUNNER_METRICS_URL' "http://$($script:RfRunnerListenAddress)/metrics"
$script:RfRunnerDownloadBase = Get-Setting 'RF_RUNNER_DOWNLOAD_BASE' 'https://gitlab-runner-downloads.s3.amazonaws.com'

# A drain's own state: an agent restarted mid-drain resumes the same drain.
$script:RfDrainStateFile = Get-Setting 'RF_DRAIN_STATE_FILE' (Join-Path $script:RfStateDir 'drain.state')

# ---- named timeouts: same names, values and reasons as lib/common.sh ----
# IMDS lifecycle-state and spot reads, and the drain's runner checks: 1 s keeps
# an idle Terminating -> CONTINUE under 3 s; two link-local GETs a second are
# far below IMDS throttling.
$script:RfWatchIntervalSeconds = [int](Get-Setting 'RF_WATCH_INTERVAL_SECONDS' 1)
# Busy slots (scale-in protection) and the rebalance recommendation.
$script:RfPollIntervalSeconds = [int](Get-Setting 'RF_POLL_INTERVAL_SECONDS' 5)
# gitlab-runner unregister: one DELETE, but the runner's HTTP client waits up
# to 60 min (common/consts.go); 15 s covers a slow GitLab and fits in the spot
# reserve. A manager left behind goes stale and GitLab removes it after 7 days.
$script:RfUnregisterTimeoutSeconds = [int](Get-Setting 'RF_UNREGISTER_TIMEOUT_SECONDS' 15)
# The contract publishes its metrics every 60 s (CloudWatch standard resolution).
$script:RfMetricsIntervalSeconds = [int](Get-Setting 'RF_METRICS_INTERVAL_SECONDS' 60)
# Kept back from the 2-minute spot notice to unregister and flush logs.
$script:RfSpotUnregisterReserveSeconds = [int](Get-Setting 'RF_SPOT_UNREGISTER_RESERVE_SECONDS' 20)
$script:RfSpotNoticeSeconds = [int](Get-Setting 'RF_SPOT_NOTICE_SECONDS' 120)
# config.toml shutdown_timeout: bounds only the forceful path.
$script:RfRunnerShutdownTimeoutSeconds = [int](Get-Setting 'RF_RUNNER_SHUTDOWN_TIMEOUT_SECONDS' 30)
# Wait after the forced stop: the runner's shutdown_timeout plus teardown margin.
$script:RfForcedStopWaitSeconds = [int](Get-Setting 'RF_FORCED_STOP_WAIT_SECONDS' ($script:RfRunnerShutdownTimeoutSeconds + 15))
# The service starts in seconds; 60 s covers a slow first Docker start.
$script:RfServiceStartTimeoutSeconds = [int](Get-Setting 'RF_SERVICE_START_TIMEOUT_SECONDS' 60)
# IMDS is link-local: 5 s without an answer means unwell, retry.
$script:RfImdsMaxTimeSeconds = [int](Get-Setting 'RF_IMDS_MAX_TIME_SECONDS' 5)
# 1+2+4+8 s of back-off rides out IMDS throttling and brief restarts.
$script:RfRetryAttempts = [int](Get-Setting 'RF_RETRY_ATTEMPTS' 5)
$script:RfRetryBaseSeconds = [int](Get-Setting 'RF_RETRY_BASE_SECONDS' 1)
# IMDSv2 token: the maximum lifetime (6 h), renewed every hour.
$script:RfImdsTokenTtlSeconds = [int](Get-Setting 'RF_IMDS_TOKEN_TTL_SECONDS' 21600)
$script:RfImdsTokenRenewSeconds = [int](Get-Setting 'RF_IMDS_TOKEN_RENEW_SECONDS' 3600)
# Runner binary download (~60 MB).
$script:RfDownloadMaxTimeSeconds = [int](Get-Setting 'RF_DOWNLOAD_MAX_TIME_SECONDS' 900)
# verify attempts: a blip at boot versus a wrong token or no route.
$script:RfVerifyAttempts = [int](Get-Setting 'RF_VERIFY_ATTEMPTS' 3)

# AWS ends a lifecycle action after 100 x its heartbeat timeout or 48 h,
# whichever is smaller; a drain must end early enough to unregister and
# complete the action itself (as RF_DRAIN_COMPLETION_MARGIN_SECONDS in bash).
$script:LifecycleGlobalTimeoutMaxSeconds = 172800
$script:DrainCompletionMarginSeconds = 300

$env:AWS_RETRY_MODE = Get-Setting 'AWS_RETRY_MODE' 'standard'
$env:AWS_MAX_ATTEMPTS = Get-Setting 'AWS_MAX_ATTEMPTS' '5'

$script:RfScriptName = 'runner-fleet'
$script:RfCurrentStep = 'start'

function Write-FleetLog([string]$Level, [string]$Message) {
    $line = '{0} {1}[{2}] {3} step={4}: {5}' -f (Get-Date).ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ'),
        $script:RfScriptName, $PID, $Level, $script:RfCurrentStep, $Message
    [Console]::Error.WriteLine($line)
    if (Test-Path -LiteralPath $script:RfLogDir) {
        Add-Content -LiteralPath (Join-Path $script:RfLogDir "$($script:RfScriptName).log") -Value $line -Encoding UTF8
    }
}

function Stop-WithError([string]$Message) {
    Write-FleetLog 'ERROR' $Message
    throw $Message
}

# Read-FleetEnv: the RF_* keys of fleet.env, verbatim, never evaluated.
function Read-FleetEnv([string]$Path = $script:RfEnvFile) {
    if (-not (Test-Path -LiteralPath $Path)) {
        Stop-WithError "environment file $Path is missing; the UserData bootstrap writes it"
    }
    $n = 0
    foreach ($line in Get-Content -LiteralPath $Path -Encoding UTF8) {
        $n++
        if ([string]::IsNullOrWhiteSpace($line) -or $line.StartsWith('#')) { continue }
        if ($line -match '^(RF_[A-Z0-9_]+)=(.*)$') {
            [Environment]::SetEnvironmentVariable($Matches[1], $Matches[2], 'Process')
        } else {
            Write-FleetLog 'WARN' "ignoring line $n of ${Path}: not an RF_KEY=value line"
        }
    }
}

function Assert-FleetSettings([string[]]$Keys) {
    $missing = @($Keys | Where-Object { [string]::IsNullOrEmpty([Environment]::GetEnvironmentVariable($_)) })
    if ($missing.Count -gt 0) { Stop-WithError "missing in $($script:RfEnvFile): $($missing -join ' ')" }
}

# Initialize-FleetSettings: the settings derived from fleet.env, after
# Read-FleetEnv; the bootstrap and the lifecycle agent both start with it.
function Initialize-FleetSettings {
    Assert-FleetSettings @('RF_REGION', 'RF_GITLAB_URL', 'RF_EXECUTOR', 'RF_CONCURRENT', 'RF_TOKEN_SOURCE', 'RF_METRICS_NAMESPACE')
    # A third of the hook's timeout: two lost heartbeats still leave it alive.
    $script:RfHeartbeatIntervalSeconds = [int](Get-Setting 'RF_HEARTBEAT_INTERVAL_SECONDS' ([int](Get-Setting 'RF_HEARTBEAT_TIMEOUT' 600) / 3))
    # 3 h by default: long CI jobs finish. Capped at min(100 x heartbeat
    # timeout, 48 h) - margin, so the drain still completes the action itself.
    $script:RfMaxDrainSeconds = [int](Get-Setting 'RF_MAX_DRAIN_SECONDS' 10800)
    $heartbeatTimeout = [int](Get-Setting 'RF_HEARTBEAT_TIMEOUT' 600)
    $drainLimit = [Math]::Min(100 * $heartbeatTimeout, $script:LifecycleGlobalTimeoutMaxSeconds) - $script:DrainCompletionMarginSeconds
    if ($script:RfMaxDrainSeconds -gt $drainLimit) {
        Write-FleetLog 'WARN' "RF_MAX_DRAIN_SECONDS=$($script:RfMaxDrainSeconds) exceeds the lifecycle action's global timeout (100 x RF_HEARTBEAT_TIMEOUT=$heartbeatTimeout, at most 48 h) minus $($script:DrainCompletionMarginSeconds)s; draining at most $($drainLimit)s"
        $script:RfMaxDrainSeconds = $drainLimit
    }
}

function Invoke-WithRetry([string]$What, [scriptblock]$Action) {
    $delay = $script:RfRetryBaseSeconds
    for ($attempt = 1; ; $attempt++) {
        try { return & $Action }
        catch {
            if ($attempt -ge $script:RfRetryAttempts) {
                Write-FleetLog 'WARN' "$What failed after $attempt attempts: $($_.Exception.Message)"
                throw
            }
            Write-FleetLog 'WARN' "$What failed (attempt $attempt/$($script:RfRetryAttempts)); retrying in ${delay}s"
            Start-Sleep -Seconds $delay
            $delay *= 2
        }
    }
}

function Invoke-Step([string]$Name, [scriptblock]$Action) {
    $script:RfCurrentStep = $Name
    Write-FleetLog 'INFO' 'begin'
    & $Action
    Write-FleetLog 'INFO' 'done'
}

# Write-FileIfChanged: returns $true when it wrote.
function Write-FileIfChanged([string]$Path, [string]$Content) {
    $dir = Split-Path -Parent $Path
    if (-not (Test-Path -LiteralPath $dir)) { New-Item -ItemType Directory -Path $dir -Force | Out-Null }
    if ((Test-Path -LiteralPath $Path) -and ((Get-Content -LiteralPath $Path -Raw) -eq $Content)) { return $false }
    [IO.File]::WriteAllText($Path, $Content, (New-Object Text.UTF8Encoding($false)))
    return $true
}

function Set-Marker([string]$Name) {
    New-Item -ItemType Directory -Path $script:RfStateDir -Force | Out-Null
    Set-Content -LiteralPath (Join-Path $script:RfStateDir $Name) -Value ((Get-Date).ToUniversalTime().ToString('o'))
}
function Test-Marker([string]$Name) { Test-Path -LiteralPath (Join-Path $script:RfStateDir $Name) }

function Get-EpochNow { [int][DateTimeOffset]::UtcNow.ToUnixTimeSeconds() }
