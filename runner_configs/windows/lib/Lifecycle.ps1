# Auto Scaling and CloudWatch calls made by the instance; mirrors
# runner_configs/linux/lib/lifecycle.sh. Uses the AWS CLI (on the Windows AMIs).
Set-StrictMode -Version Latest

function Invoke-Aws([string[]]$Arguments) {
    $output = & aws --region $env:RF_REGION @Arguments
    if ($LASTEXITCODE -ne 0) { throw "aws $($Arguments[0]) $($Arguments[1]) failed (exit $LASTEXITCODE)" }
    return $output
}

function Initialize-FleetIdentity {
    $script:InstanceId = Get-ImdsInstanceId
    if (-not $script:InstanceId) { Stop-WithError "cannot read instance-id from IMDS at $($script:RfImdsEndpoint)" }
    $script:AsgName = Get-Setting 'RF_ASG_NAME' $null
    if (-not $script:AsgName) { $script:AsgName = Get-ImdsAsgName }
    if (-not $script:AsgName) {
        Stop-WithError 'cannot read tag aws:autoscaling:groupName from IMDS; the launch template must enable InstanceMetadataTags'
    }
    if (-not $env:RF_REGION) { $env:RF_REGION = Get-ImdsRegion }
}

function Send-LifecycleHeartbeat([string]$Hook) {
    if (-not $Hook) { return }
    try {
        Invoke-Aws @('autoscaling', 'record-lifecycle-action-heartbeat', '--lifecycle-hook-name', $Hook,
            '--auto-scaling-group-name', $script:AsgName, '--instance-id', $script:InstanceId) | Out-Null
        Write-FleetLog 'INFO' "heartbeat sent for lifecycle hook $Hook"
    } catch { Write-FleetLog 'WARN' "heartbeat for lifecycle hook $Hook failed" }
}

function Complete-LifecycleAction([string]$Hook, [string]$Result) {
    if (-not $Hook) { Write-FleetLog 'WARN' "no lifecycle hook configured; nothing to complete ($Result)"; return }
    try {
        Invoke-WithRetry "complete-lifecycle-action $Result" {
            Invoke-Aws @('autoscaling', 'complete-lifecycle-action', '--lifecycle-hook-name', $Hook,
                '--auto-scaling-group-name', $script:AsgName, '--instance-id', $script:InstanceId,
                '--lifecycle-action-result', $Result) | Out-Null
        }
        Write-FleetLog 'INFO' "lifecycle action $Hook completed with $Result"
    } catch {
        Write-FleetLog 'ERROR' "could not complete lifecycle action $Hook with $Result; the hook times out after RF_HEARTBEAT_TIMEOUT"
    }
}

# Start-HeartbeatLoop / Stop-HeartbeatLoop: heartbeats from a background job
# for the whole launch (Windows Update, downloads, register, verify).
# Starting it twice keeps the one job.
$script:HeartbeatJob = $null
function Start-HeartbeatLoop([string]$Hook) {
    if (-not $Hook -or $script:HeartbeatJob) { return }
    $script:HeartbeatJob = Start-Job -ArgumentList $Hook, $script:AsgName, $script:InstanceId, $env:RF_REGION, $script:RfHeartbeatIntervalSeconds -ScriptBlock {
        param($Hook, $Asg, $Instance, $Region, $Interval)
        while ($true) {
            Start-Sleep -Seconds $Interval
            & aws --region $Region autoscaling record-lifecycle-action-heartbeat --lifecycle-hook-name $Hook `
                --auto-scaling-group-name $Asg --instance-id $Instance | Out-Null
        }
    }
}
function Stop-HeartbeatLoop {
    if ($script:HeartbeatJob) {
        Stop-Job -Job $script:HeartbeatJob -ErrorAction SilentlyContinue
        Remove-Job -Job $script:HeartbeatJob -Force -ErrorAction SilentlyContinue
        $script:HeartbeatJob = $null
    }
}

function Set-ScaleInProtection([bool]$Protected) {
    $flag = if ($Protected) { '--protected-from-scale-in' } else { '--no-protected-from-scale-in' }
    Invoke-Aws @('autoscaling', 'set-instance-protection', '--instance-ids', $script:InstanceId,
        '--auto-scaling-group-name', $script:AsgName, $flag) | Out-Null
}

# Used memory in percent (integer, floored), as on Linux from meminfo:
# (TotalVisibleMemorySize - FreePhysicalMemory) / TotalVisibleMemorySize x 100.
function Get-MemoryUtilization {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $total = [double]$os.TotalVisibleMemorySize
    $free = [double]$os.FreePhysicalMemory
    if ($total -le 0 -or $free -gt $total) { throw "Win32_OperatingSystem reports total $total KB, free $free KB" }
    return [int][Math]::Floor(($total - $free) * 100 / $total)
}

# The contract's metrics in one call: the three slot metrics and
# MemoryUtilization (left out, with a warning, when it cannot be read).
# With -NoWait the AWS CLI runs as its own process and the call returns at
# once (Start-FleetMetricsPublish), so the agent's watch never waits for it.
function Publish-FleetMetrics([int]$Busy, [int]$Concurrent, [switch]$NoWait) {
    $saturation = 0
    if ($Concurrent -gt 0) { $saturation = [int][Math]::Floor($Busy * 100 / $Concurrent) }
    $dim = "Name=AutoScalingGroupName,Value=$($script:AsgName)"
    $data = @(
        "MetricName=BusyJobSlots,Unit=Count,Value=$Busy,Dimensions=[{$dim}]",
        "MetricName=ConcurrentJobSlots,Unit=Count,Value=$Concurrent,Dimensions=[{$dim}]",
        "MetricName=JobSlotSaturation,Unit=Percent,Value=$saturation,Dimensions=[{$dim}]")
    try {
        $memory = Get-MemoryUtilization
        $data += "MetricName=MemoryUtilization,Unit=Percent,Value=$memory,Dimensions=[{$dim}]"
    } catch {
        Write-FleetLog 'WARN' "cannot read Win32_OperatingSystem memory; MemoryUtilization not published: $($_.Exception.Message)"
    }
    $arguments = @('cloudwatch', 'put-metric-data', '--namespace', $env:RF_METRICS_NAMESPACE, '--metric-data') + $data
    if ($NoWait) {
        $script:MetricsProcess = Start-Process -FilePath 'aws' -ArgumentList (@('--region', $env:RF_REGION) + $arguments) -NoNewWindow -PassThru
        return
    }
    Invoke-Aws $arguments | Out-Null
}

# Start-FleetMetricsPublish BUSY CONCURRENT: as metrics_publish_background in
# bash: put-metric-data (an AWS CLI start, about a second) off the watch
# loop; a publish still running skips this one.
$script:MetricsProcess = $null
function Start-FleetMetricsPublish([int]$Busy, [int]$Concurrent) {
    if ($script:MetricsProcess -and -not $script:MetricsProcess.HasExited) {
        Write-FleetLog 'WARN' 'previous put-metric-data still running; skipping this one'
        return
    }
    Publish-FleetMetrics $Busy $Concurrent -NoWait
}
