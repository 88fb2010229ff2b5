# The lifecycle agent (Windows): a scheduled task at startup that watches
# IMDSv2 like runner_configs/linux/lifecycle-agent.sh: drain on a terminate
# transition (heartbeats, unregister, always CONTINUE), drain on a spot
# notice, scale-in protection while busy, slot metrics every minute.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'lib\Common.ps1')
. (Join-Path $PSScriptRoot 'lib\Imds.ps1')
. (Join-Path $PSScriptRoot 'lib\Lifecycle.ps1')
. (Join-Path $PSScriptRoot 'lib\Runner.ps1')
. (Join-Path $PSScriptRoot 'lib\Bootstrap.ps1')
$script:RfScriptName = 'lifecycle-agent'

# Invoke-Drain REASON DEADLINE HOOK [SPOT_JSON]: as agent_drain in bash. A
# spot notice (given, or seen during a terminate drain) moves the deadline to
# Get-SpotDeadline so the forced stop and the unregister end before the reclaim.
function Invoke-Drain([string]$Reason, [int]$Deadline, [string]$Hook, [string]$Spot = '') {
    try {
        $script:RfCurrentStep = 'drain'
        $unregisterBy = 0
        if ($Spot) {
            $Deadline = Get-SpotDeadline $Spot
            $unregisterBy = (Get-SpotNoticeEpoch $Spot) - $script:RfSpotUnregisterReserveSeconds
        }
        Write-FleetLog 'INFO' "draining ($Reason): up to $($Deadline - (Get-EpochNow))s for running jobs"
        Start-RunnerDrain
        $nextHeartbeat = (Get-EpochNow) + $script:RfHeartbeatIntervalSeconds
        while (Test-RunnerServiceActive) {
            if (-not $Spot) {
                $notice = $null
                try { $notice = Get-SpotNoticePending } catch { Write-FleetLog 'WARN' "IMDS spot poll failed: $($_.Exception.Message)" }
                if ($notice) {
                    $Spot = $notice
                    $spotDeadline = Get-SpotDeadline $Spot
                    $unregisterBy = (Get-SpotNoticeEpoch $Spot) - $script:RfSpotUnregisterReserveSeconds
                    if ($spotDeadline -lt $Deadline) { $Deadline = $spotDeadline }
                    Write-FleetLog 'WARN' "spot interruption notice during the drain ($Reason): $Spot; jobs now end within $($Deadline - (Get-EpochNow))s"
                }
            }
            $now = Get-EpochNow
            if ($now -ge $Deadline) {
                Write-FleetLog 'WARN' "jobs still running at the drain deadline ($Reason)"
                $maxWait = $script:RfForcedStopWaitSeconds
                if ($unregisterBy -gt 0) { $maxWait = [Math]::Max(0, $unregisterBy - $now) }
                Stop-RunnerForcefully $maxWait
                break
            }
            if ($Hook -and $now -ge $nextHeartbeat) {
                Send-LifecycleHeartbeat $Hook
                $nextHeartbeat = (Get-EpochNow) + $script:RfHeartbeatIntervalSeconds
            }
            Start-Sleep -Seconds $script:RfPollIntervalSeconds
        }
        Write-FleetLog 'INFO' 'runner stopped'
        $script:RfCurrentStep = 'unregister'
        if (-not (Unregister-RunnerManager)) {
            Write-FleetLog 'ERROR' 'unregister failed; GitLab removes the stale runner manager after 7 days'
        }
    } catch {
        Write-FleetLog 'ERROR' "drain step '$($script:RfCurrentStep)' failed: $($_.Exception.Message)"
    } finally {
        if ($Hook) {
            $script:RfCurrentStep = 'complete'
            Complete-LifecycleAction $Hook 'CONTINUE'
        }
    }
}

# Get-SpotNoticePending: the spot/instance-action JSON when it announces an
# interruption (terminate, stop, hibernate), else $null.
function Get-SpotNoticePending {
    $spot = Get-ImdsSpotAction
    if ($spot -and $spot -match '"action"\s*:\s*"(terminate|stop|hibernate)"') { return $spot }
    return $null
}

# Get-SpotNoticeEpoch JSON: the notice's time; a missing, empty or
# unparsable time falls back to now + RF_SPOT_NOTICE_SECONDS.
function Get-SpotNoticeEpoch([string]$Json) {
    $when = $null
    try { $when = ($Json | ConvertFrom-Json).time } catch { $when = $null }
    if (-not [string]::IsNullOrWhiteSpace([string]$when)) {
        try { return [int]([DateTimeOffset]::Parse([string]$when).ToUnixTimeSeconds()) } catch { Write-FleetLog 'WARN' "spot notice time '$when' does not parse" }
    }
    Write-FleetLog 'WARN' "spot notice without a usable time; assuming $($script:RfSpotNoticeSeconds)s from now"
    return (Get-EpochNow) + $script:RfSpotNoticeSeconds
}

# Get-SpotDeadline JSON: notice time - unregister reserve - forced-stop wait.
function Get-SpotDeadline([string]$Json) {
    return (Get-SpotNoticeEpoch $Json) - $script:RfSpotUnregisterReserveSeconds - $script:RfForcedStopWaitSeconds
}

$script:Protected = $null
function Update-ScaleInProtection([int]$Busy) {
    $want = $Busy -gt 0
    if ($script:Protected -eq $want) { return }
    try {
        Set-ScaleInProtection $want
        $script:Protected = $want
        Write-FleetLog 'INFO' "scale-in protection $(if ($want) { 'set' } else { 'cleared' }) (busy=$Busy)"
    } catch { Write-FleetLog 'WARN' "set-instance-protection $want failed; retrying next poll" }
}

function Invoke-LifecycleAgent {
    New-Item -ItemType Directory -Path $script:RfLogDir -Force | Out-Null
    Read-FleetEnv $script:RfEnvFile
    Initialize-FleetSettings
    while ($true) { try { Initialize-FleetIdentity; break } catch { Start-Sleep -Seconds $script:RfPollIntervalSeconds } }
    Write-FleetLog 'INFO' "watching IMDS at $($script:RfImdsEndpoint) for $($script:InstanceId) in $($script:AsgName)"
    $rebalanceSeen = $false
    $nextMetrics = 0
    while ($true) {
        $script:RfCurrentStep = 'watch'
        try {
            $spot = Get-SpotNoticePending
            if ($spot) {
                Write-FleetLog 'WARN' "spot interruption notice: $spot"
                Invoke-Drain 'spot interruption' 0 '' $spot
                if ((Get-ImdsLifecycleState) -eq 'Terminated') { Complete-LifecycleAction $env:RF_TERMINATE_HOOK 'CONTINUE' }
                return
            }
            if ((Get-ImdsLifecycleState) -eq 'Terminated') {
                Invoke-Drain 'lifecycle transition to Terminated' ((Get-EpochNow) + $script:RfMaxDrainSeconds) $env:RF_TERMINATE_HOOK
                return
            }
            if (-not $rebalanceSeen -and (Get-ImdsRebalance)) {
                $rebalanceSeen = $true
                Write-FleetLog 'WARN' 'rebalance recommendation: capacity rebalancing replaces this instance through the normal drain'
            }
        } catch { Write-FleetLog 'WARN' "IMDS poll failed: $($_.Exception.Message)" }
        try {
            $busy = Get-RunnerBusyJobs
            Update-ScaleInProtection $busy
            if ((Get-EpochNow) -ge $nextMetrics) {
                $concurrent = Get-RunnerMetric 'gitlab_runner_concurrent'
                if ($concurrent -le 0) { $concurrent = [int]$env:RF_CONCURRENT }
                Publish-FleetMetrics $busy $concurrent
                $nextMetrics = (Get-EpochNow) + $script:RfMetricsIntervalSeconds
            }
        } catch { Write-FleetLog 'WARN' "runner metrics or metric publishing failed: $($_.Exception.Message)" }
        try { Watch-RunnerToken } catch { Write-FleetLog 'WARN' "runner token watch failed: $($_.Exception.Message)" }
        Start-Sleep -Seconds $script:RfPollIntervalSeconds
    }
}

Invoke-LifecycleAgent
