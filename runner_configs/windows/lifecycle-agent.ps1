# The lifecycle agent (Windows): a scheduled task at startup that watches
# IMDSv2 like runner_configs/linux/lifecycle-agent.sh: drain on a terminate
# transition (heartbeats while the runner's process lives, unregister,
# CONTINUE on every way out), drain on a spot notice, scale-in protection
# while busy, slot metrics every minute. A drain keeps its state in
# RF_DRAIN_STATE_FILE; a restarted agent resumes it with the same deadline.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'lib\Common.ps1')
. (Join-Path $PSScriptRoot 'lib\Imds.ps1')
. (Join-Path $PSScriptRoot 'lib\Lifecycle.ps1')
. (Join-Path $PSScriptRoot 'lib\Runner.ps1')
. (Join-Path $PSScriptRoot 'lib\Token.ps1')
$script:RfScriptName = 'lifecycle-agent'

# ---- the drain: the same state and steps as in bash -------------------------
$script:Drain = $null

# Save-DrainState: the drain's state, written atomically; a failure is logged.
function Save-DrainState {
    $d = $script:Drain
    $lines = @("RF_DRAIN_INSTANCE_ID=$($script:InstanceId)", "RF_DRAIN_REASON=$($d.Reason)",
        "RF_DRAIN_STARTED_AT=$($d.StartedAt)", "RF_DRAIN_DEADLINE=$($d.Deadline)", "RF_DRAIN_HOOK=$($d.Hook)",
        "RF_DRAIN_SPOT=$($d.Spot)", "RF_DRAIN_NOTICE_AT=$($d.NoticeAt)",
        "RF_DRAIN_UNREGISTERED=$([int]$d.Unregistered)", "RF_DRAIN_COMPLETED=$([int]$d.Completed)",
        "RF_DRAIN_PHASE=$($d.Phase)")
    try {
        $tmp = "$($script:RfDrainStateFile).tmp"
        New-Item -ItemType Directory -Path (Split-Path -Parent $script:RfDrainStateFile) -Force | Out-Null
        [IO.File]::WriteAllText($tmp, (($lines -join "`n") + "`n"), (New-Object Text.UTF8Encoding($false)))
        Move-Item -LiteralPath $tmp -Destination $script:RfDrainStateFile -Force
    } catch {
        Write-FleetLog 'WARN' "cannot write the drain state to $($script:RfDrainStateFile); a restarted agent could not resume this drain"
    }
}

# Read-DrainState: the recorded drain of this instance, or $null.
function Read-DrainState {
    if (-not (Test-Path -LiteralPath $script:RfDrainStateFile)) { return $null }
    $values = @{}
    foreach ($line in Get-Content -LiteralPath $script:RfDrainStateFile -Encoding UTF8) {
        if ($line -match '^RF_DRAIN_([A-Z_]+)=(.*)$') { $values[$Matches[1]] = $Matches[2] }
    }
    if ($values['INSTANCE_ID'] -ne $script:InstanceId) {
        Write-FleetLog 'WARN' "ignoring $($script:RfDrainStateFile): it belongs to instance '$($values['INSTANCE_ID'])', not $($script:InstanceId)"
        return $null
    }
    foreach ($key in @('STARTED_AT', 'DEADLINE', 'NOTICE_AT', 'UNREGISTERED', 'COMPLETED')) {
        if ([string]$values[$key] -notmatch '^[0-9]+$') {
            Write-FleetLog 'WARN' "ignoring $($script:RfDrainStateFile): not a number in $key"
            return $null
        }
    }
    if ($values['PHASE'] -notin @('draining', 'finished')) {
        Write-FleetLog 'WARN' "ignoring $($script:RfDrainStateFile): unknown phase '$($values['PHASE'])'"
        return $null
    }
    return [pscustomobject]@{
        Reason = $values['REASON']; StartedAt = [int]$values['STARTED_AT']; Deadline = [int]$values['DEADLINE']
        Hook = $values['HOOK']; Spot = $values['SPOT']; NoticeAt = [int]$values['NOTICE_AT']
        Unregistered = $values['UNREGISTERED'] -eq '1'; Completed = $values['COMPLETED'] -eq '1'
        Phase = $values['PHASE']; Resumed = $false
    }
}

# Set-DrainSpotNotice JSON: as drain_apply_spot: the spot deadline (never
# later than the drain's) and the reclaim time, fixed once.
function Set-DrainSpotNotice([string]$Json) {
    $notice = Get-SpotNoticeEpoch $Json
    $spotJobsDeadline = Get-SpotDeadline $notice
    $script:Drain.Spot = ($Json -replace "[`r`n]", ' ')
    $script:Drain.NoticeAt = $notice
    if ($script:Drain.Deadline -eq 0 -or $spotJobsDeadline -lt $script:Drain.Deadline) { $script:Drain.Deadline = $spotJobsDeadline }
}

# Start-Drain REASON DEADLINE HOOK [SPOT_JSON]: a new drain, its state written first.
function Start-Drain([string]$Reason, [int]$Deadline, [string]$Hook, [string]$Spot = '') {
    $script:Drain = [pscustomobject]@{
        Reason = $Reason; StartedAt = (Get-EpochNow); Deadline = $Deadline; Hook = $Hook; Spot = ''; NoticeAt = 0
        Unregistered = $false; Completed = $false; Phase = 'draining'; Resumed = $false
    }
    if ($Spot) { Set-DrainSpotNotice $Spot }
    Save-DrainState
    Invoke-Drain
}

# Invoke-Drain: the drain $script:Drain describes, new or resumed. The
# unregister and the CONTINUE run in finally, whatever failed before them (as
# lifecycled's defer); after a failure, jobs still running are first ended
# the reported way. Stopping the scheduled task ends the process without
# running finally: the state stays and a restarted agent resumes the drain.
function Invoke-Drain {
    try {
        $script:RfCurrentStep = 'drain'
        Write-FleetLog 'INFO' "draining ($($script:Drain.Reason)): up to $($script:Drain.Deadline - (Get-EpochNow))s for running jobs"
        Start-RunnerDrain
        Wait-DrainRunner
    } catch {
        $script:RfCurrentStep = 'drain-failed'
        Write-FleetLog 'ERROR' "the drain ($($script:Drain.Reason)) failed: $($_.Exception.Message); ending it now: forced stop if jobs run, unregister, CONTINUE"
        try { if (Test-RunnerMainRunning) { Stop-RunnerForcefully } } catch { Write-FleetLog 'ERROR' "forced stop failed: $($_.Exception.Message)" }
    } finally {
        Complete-Drain
    }
}

# Send-DrainHeartbeatIfDue: as drain_heartbeat_if_due; also called during
# the forced stop's wait, which can outlast a 30 s heartbeat timeout.
$script:NextHeartbeat = 0
function Send-DrainHeartbeatIfDue {
    if (-not $script:Drain.Hook -or (Get-EpochNow) -lt $script:NextHeartbeat) { return }
    Send-LifecycleHeartbeat $script:Drain.Hook
    $script:NextHeartbeat = (Get-EpochNow) + $script:RfHeartbeatIntervalSeconds
}

# Wait-DrainRunner: while the runner's process lives: spot notice, deadline
# (forced stop), heartbeats; fast first checks, then every RF_WATCH_INTERVAL_SECONDS.
function Wait-DrainRunner {
    $d = $script:Drain
    $script:NextHeartbeat = (Get-EpochNow) + $script:RfHeartbeatIntervalSeconds
    if ($d.Resumed) { $script:NextHeartbeat = 0 }
    $pauseMs = 100
    while (Test-RunnerMainRunning) {
        if (-not $d.Spot) {
            $notice = $null
            try { $notice = Get-SpotNoticePending } catch { Write-FleetLog 'WARN' "IMDS spot poll failed: $($_.Exception.Message)" }
            if ($notice) {
                Set-DrainSpotNotice $notice
                Save-DrainState
                Write-FleetLog 'WARN' "spot interruption notice during the drain ($($d.Reason)): $notice; jobs now end within $($d.Deadline - (Get-EpochNow))s"
            }
        }
        $now = Get-EpochNow
        if ($now -ge $d.Deadline) {
            Write-FleetLog 'WARN' "jobs still running at the drain deadline ($($d.Reason))"
            $maxWait = $script:RfForcedStopWaitSeconds
            if ($d.NoticeAt -gt 0) { $maxWait = [Math]::Max(0, $d.NoticeAt - $script:RfSpotUnregisterReserveSeconds - $now) }
            Stop-RunnerForcefully $maxWait { Send-DrainHeartbeatIfDue }
            return
        }
        Send-DrainHeartbeatIfDue
        Start-Sleep -Milliseconds $pauseMs
        $pauseMs = [Math]::Min($pauseMs * 2, $script:RfWatchIntervalSeconds * 1000)
    }
    Write-FleetLog 'INFO' 'runner process exited'
}

# Invoke-DrainUnregister: once per drain; bounded, and after a spot notice by
# the time left before the reclaim. Attempted whatever failed before it.
function Invoke-DrainUnregister {
    if ($script:Drain.Unregistered) { return }
    $script:RfCurrentStep = 'unregister'
    $bound = $script:RfUnregisterTimeoutSeconds
    if ($script:Drain.NoticeAt -gt 0) { $bound = [Math]::Min($bound, $script:Drain.NoticeAt - (Get-EpochNow)) }
    $ok = $false
    try { $ok = Unregister-RunnerManager $bound } catch { Write-FleetLog 'ERROR' "unregister failed: $($_.Exception.Message)" }
    if (-not $ok) { Write-FleetLog 'ERROR' 'unregister failed; GitLab removes the stale runner manager after 7 days' }
    $script:Drain.Unregistered = $true
    Save-DrainState
}

# Complete-DrainOnce: CONTINUE at most once per drain; a spot drain completes
# the terminate action if the group has moved the instance to Terminated.
function Complete-DrainOnce {
    if ($script:Drain.Completed) { return }
    $script:Drain.Completed = $true
    $hook = $script:Drain.Hook
    if (-not $hook) {
        try { if ((Get-ImdsLifecycleState) -eq 'Terminated') { $hook = $env:RF_TERMINATE_HOOK } } catch { Write-FleetLog 'WARN' "IMDS lifecycle read failed: $($_.Exception.Message)" }
    }
    if ($hook) {
        $script:RfCurrentStep = 'complete'
        Complete-LifecycleAction $hook 'CONTINUE'
    }
    Save-DrainState
}

function Complete-Drain {
    Invoke-DrainUnregister
    Complete-DrainOnce
    $script:Drain.Phase = 'finished'
    Save-DrainState
    Write-FleetLog 'INFO' "drain finished ($($script:Drain.Reason)) after $((Get-EpochNow) - $script:Drain.StartedAt)s"
}

# Resume-Drain: a finished drain leaves nothing to do; an unfinished one goes
# on with its deadline, never starting the runner.
function Resume-Drain {
    if ($script:Drain.Phase -eq 'finished') {
        Write-FleetLog 'INFO' "the drain ($($script:Drain.Reason)) has finished; nothing to do"
        return
    }
    $script:Drain.Resumed = $true
    Write-FleetLog 'WARN' "resuming the drain ($($script:Drain.Reason)) begun $((Get-EpochNow) - $script:Drain.StartedAt)s ago; deadline in $($script:Drain.Deadline - (Get-EpochNow))s"
    Invoke-Drain
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

# Get-SpotDeadline NOTICE_EPOCH: notice time - unregister reserve - forced-stop wait.
function Get-SpotDeadline([int]$NoticeEpoch) {
    return $NoticeEpoch - $script:RfSpotUnregisterReserveSeconds - $script:RfForcedStopWaitSeconds
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

# Invoke-RunnerPoll: rebalance recommendation, busy slots (scale-in
# protection) and the fleet's metrics, every RF_POLL_INTERVAL_SECONDS.
$script:RebalanceSeen = $false
$script:NextMetrics = 0
function Invoke-RunnerPoll {
    try {
        if (-not $script:RebalanceSeen -and (Get-ImdsRebalance)) {
            $script:RebalanceSeen = $true
            Write-FleetLog 'WARN' 'rebalance recommendation: capacity rebalancing replaces this instance through the normal drain'
        }
    } catch { Write-FleetLog 'WARN' "IMDS rebalance poll failed: $($_.Exception.Message)" }
    try {
        $busy = Get-RunnerBusyJobs
        Update-ScaleInProtection $busy
        if ((Get-EpochNow) -ge $script:NextMetrics) {
            $concurrent = Get-RunnerMetric 'gitlab_runner_concurrent'
            if ($concurrent -le 0) { $concurrent = [int]$env:RF_CONCURRENT }
            Start-FleetMetricsPublish $busy $concurrent
            $script:NextMetrics = (Get-EpochNow) + $script:RfMetricsIntervalSeconds
        }
    } catch { Write-FleetLog 'WARN' "runner metrics or metric publishing failed: $($_.Exception.Message)" }
    try { Watch-RunnerToken } catch { Write-FleetLog 'WARN' "runner token watch failed: $($_.Exception.Message)" }
}

function Invoke-LifecycleAgent {
    New-Item -ItemType Directory -Path $script:RfLogDir -Force | Out-Null
    Read-FleetEnv $script:RfEnvFile
    Initialize-FleetSettings
    while ($true) { try { Initialize-FleetIdentity; break } catch { Start-Sleep -Seconds $script:RfWatchIntervalSeconds } }
    $script:Drain = Read-DrainState
    if ($script:Drain) { Resume-Drain; return }
    Write-FleetLog 'INFO' "watching IMDS at $($script:RfImdsEndpoint) for $($script:InstanceId) in $($script:AsgName) (every $($script:RfWatchIntervalSeconds)s; runner every $($script:RfPollIntervalSeconds)s)"
    $nextPoll = 0
    $tickMs = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds()
    while ($true) {
        $script:RfCurrentStep = 'watch'
        try {
            $spot = Get-SpotNoticePending
            if ($spot) {
                Write-FleetLog 'WARN' "spot interruption notice: $spot"
                Start-Drain 'spot interruption' 0 '' $spot
                return
            }
            if ((Get-ImdsLifecycleState) -eq 'Terminated') {
                Start-Drain 'lifecycle transition to Terminated' ((Get-EpochNow) + $script:RfMaxDrainSeconds) $env:RF_TERMINATE_HOOK
                return
            }
        } catch { Write-FleetLog 'WARN' "IMDS poll failed: $($_.Exception.Message)" }
        $now = Get-EpochNow
        if ($now -ge $nextPoll) {
            Invoke-RunnerPoll
            $nextPoll = $now + $script:RfPollIntervalSeconds
        }
        # Reads start every RF_WATCH_INTERVAL_SECONDS whatever this round took.
        $tickMs += $script:RfWatchIntervalSeconds * 1000
        $waitMs = $tickMs - [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds()
        if ($waitMs -gt 0) { Start-Sleep -Milliseconds $waitMs } else { $tickMs = [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds() }
    }
}

Invoke-LifecycleAgent
