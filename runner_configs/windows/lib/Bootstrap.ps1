# The launch flow shared by docker.ps1 and shell.ps1; mirrors
# runner_configs/linux/lib/bootstrap.sh. The executor script dot-sources this
# file (it dot-sources every library a launch needs), then defines
# Initialize-ExecutorPrerequisites, Get-ExecutorTemplate, Get-ExecutorName
# and Get-ExecutorRegisterArgs, and calls Invoke-Bootstrap.
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'Common.ps1')
. (Join-Path $PSScriptRoot 'Imds.ps1')
. (Join-Path $PSScriptRoot 'Lifecycle.ps1')
. (Join-Path $PSScriptRoot 'Packages.ps1')
. (Join-Path $PSScriptRoot 'Runner.ps1')
. (Join-Path $PSScriptRoot 'Extras.ps1')
. (Join-Path $PSScriptRoot 'Job-Imds.ps1')
# The runner token's life on the instance: never rotated here, swapped in when SSM has a new one.
. (Join-Path $PSScriptRoot 'Token.ps1')

$script:MarkerPatched = 'patched'
$script:MarkerRebooted = 'rebooted-after-patch'
$script:MarkerLaunchDone = 'launch-completed'
$script:ResumeTaskName = 'runner-fleet-bootstrap-resume'
$script:AgentTaskName = 'runner-fleet-lifecycle'

# Install-OsPatches: Windows Update through its COM API (no PSWindowsUpdate
# module needed); the heartbeat loop Invoke-Bootstrap starts after the
# identity step keeps the launch hook alive meanwhile.
function Install-OsPatches([string]$Scope) {
    if (Test-Marker $script:MarkerPatched) { Write-FleetLog 'INFO' 'patches already applied'; return }
    if ($Scope -notin @('all', 'security', 'none')) { Stop-WithError "RF_PATCH_SCOPE must be all, security or none; got '$Scope'" }
    if ($Scope -ne 'none') {
        $session = New-Object -ComObject 'Microsoft.Update.Session'
        $searcher = $session.CreateUpdateSearcher()
        $criteria = "IsInstalled=0 and Type='Software' and IsHidden=0"
        $found = $searcher.Search($criteria).Updates
        $updates = New-Object -ComObject 'Microsoft.Update.UpdateColl'
        foreach ($update in $found) {
            $isSecurity = @($update.Categories | Where-Object { $_.Name -in @('Security Updates', 'Critical Updates') }).Count -gt 0
            if ($Scope -eq 'all' -or $isSecurity) {
                if (-not $update.EulaAccepted) { $update.AcceptEula() }
                [void]$updates.Add($update)
            }
        }
        Write-FleetLog 'INFO' "installing $($updates.Count) updates (scope $Scope)"
        if ($updates.Count -gt 0) {
            $downloader = $session.CreateUpdateDownloader(); $downloader.Updates = $updates; [void]$downloader.Download()
            $installer = $session.CreateUpdateInstaller(); $installer.Updates = $updates
            $result = $installer.Install()
            if ($result.ResultCode -notin @(2, 3)) { Stop-WithError "Windows Update finished with result code $($result.ResultCode)" }
        }
    }
    Set-Marker $script:MarkerPatched
}

function Test-OsRebootRequired {
    (New-Object -ComObject 'Microsoft.Update.SystemInfo').RebootRequired -or
        (Test-Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending')
}

# Restart-OsIfRequired: reboot once; a one-shot startup task resumes the bootstrap.
function Restart-OsIfRequired([string]$Script) {
    if (Test-Marker $script:MarkerRebooted) {
        Unregister-ScheduledTask -TaskName $script:ResumeTaskName -Confirm:$false -ErrorAction SilentlyContinue
        Write-FleetLog 'INFO' 'already rebooted once after patching; continuing'
        return $false
    }
    if (-not (Test-OsRebootRequired)) { return $false }
    $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument "-NoProfile -ExecutionPolicy Bypass -File `"$Script`""
    Register-ScheduledTask -TaskName $script:ResumeTaskName -Action $action -Trigger (New-ScheduledTaskTrigger -AtStartup) `
        -User 'SYSTEM' -RunLevel Highest -Force | Out-Null
    Set-Marker $script:MarkerRebooted
    Stop-HeartbeatLoop
    Send-LifecycleHeartbeat $env:RF_LAUNCH_HOOK
    Write-FleetLog 'INFO' 'patches need a reboot; rebooting, the bootstrap resumes afterwards'
    Restart-Computer -Force
    return $true
}

# Install-LogShipping: amazon-cloudwatch-agent ships the log files.
function Install-LogShipping {
    if (-not $env:RF_LOG_GROUP) { Write-FleetLog 'INFO' 'RF_LOG_GROUP empty: not shipping logs'; return }
    Install-CloudWatchAgent
    $collect = foreach ($file in @('bootstrap', 'lifecycle-agent', 'gitlab-runner')) {
        @{ file_path = (Join-Path $script:RfLogDir "$file.log"); log_group_name = $env:RF_LOG_GROUP; log_stream_name = "{instance_id}/$file"; retention_in_days = -1 }
    }
    $json = @{ logs = @{ logs_collected = @{ files = @{ collect_list = @($collect) } } } } | ConvertTo-Json -Depth 6
    $path = Join-Path $env:ProgramData 'Amazon\AmazonCloudWatchAgent\runner-fleet.json'
    if (Write-FileIfChanged $path $json) {
        & $script:RfCwAgentCtl -a fetch-config -m ec2 -s -c "file:$path"
    }
}

function Install-LifecycleAgent {
    $agent = Join-Path $script:RfRoot 'lifecycle-agent.ps1'
    if (-not (Get-ScheduledTask -TaskName $script:AgentTaskName -ErrorAction SilentlyContinue)) {
        $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument "-NoProfile -ExecutionPolicy Bypass -File `"$agent`""
        $settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit ([TimeSpan]::Zero) -RestartCount 999 -RestartInterval (New-TimeSpan -Minutes 1)
        Register-ScheduledTask -TaskName $script:AgentTaskName -Action $action -Trigger (New-ScheduledTaskTrigger -AtStartup) `
            -Settings $settings -User 'SYSTEM' -RunLevel Highest -Force | Out-Null
    }
    if ((Get-ScheduledTask -TaskName $script:AgentTaskName).State -ne 'Running') { Start-ScheduledTask -TaskName $script:AgentTaskName }
}

# Complete-Launch: the heartbeats stop first, so none arrives after CONTINUE.
function Complete-Launch {
    Stop-HeartbeatLoop
    if (Test-Marker $script:MarkerLaunchDone) { Write-FleetLog 'INFO' 'launch lifecycle action already completed'; return }
    Complete-LifecycleAction $env:RF_LAUNCH_HOOK 'CONTINUE'
    Set-Marker $script:MarkerLaunchDone
}

function Invoke-Bootstrap([string]$Script) {
    $script:RfScriptName = 'bootstrap'
    New-Item -ItemType Directory -Path $script:RfLogDir, $script:RfStateDir -Force | Out-Null
    try {
        Invoke-Step 'load-env' { Read-FleetEnv $script:RfEnvFile }
        Invoke-Step 'settings' { Initialize-FleetSettings }
        Invoke-Step 'aws-cli' { Install-AwsCli }
        Invoke-Step 'identity' { Initialize-FleetIdentity }
        # Heartbeat the launch hook for the whole launch, not only while patching.
        if (-not (Test-Marker $script:MarkerLaunchDone)) { Start-HeartbeatLoop $env:RF_LAUNCH_HOOK }
        Invoke-Step 'patch' { Install-OsPatches (Get-Setting 'RF_PATCH_SCOPE' 'security') }
        Invoke-Step 'reboot' { $script:Rebooting = Restart-OsIfRequired $Script }
        if ($script:Rebooting) { return }
        Invoke-Step 'logs' { Install-LogShipping }
        Invoke-Step 'executor-prerequisites' { Initialize-ExecutorPrerequisites }
        # The service is installed only at start-runner, after the system_id is written.
        Invoke-Step 'install-runner' { Install-GitLabRunner (Get-Setting 'RF_RUNNER_VERSION' 'latest') }
        Invoke-Step 'job-imds' { Block-JobImds }
        Invoke-Step 'system-id' { Write-RunnerSystemId $script:InstanceId }
        Invoke-Step 'runner-config' { Write-RunnerConfig ([int]$env:RF_CONCURRENT) }
        $template = Join-Path $script:RfStateDir 'runner-template.toml'
        [void](Write-FileIfChanged $template (Get-ExecutorTemplate))
        Invoke-Step 'register' { Register-Runner "$($env:RF_STACK_NAME)-$($script:InstanceId)" (Get-ExecutorName) $template @(Get-ExecutorRegisterArgs) }
        Invoke-Step 'pin-token' { Clear-RunnerTokenExpiry }
        Invoke-Step 'verify' { Test-RunnerVerified }
        Invoke-Step 'start-runner' { Start-RunnerService }
        Invoke-Step 'start-agent' { Install-LifecycleAgent }
        Invoke-Step 'complete-launch' { Complete-Launch }
        $script:RfCurrentStep = 'finished'
        Write-FleetLog 'INFO' "instance $($script:InstanceId) is in service"
    } catch {
        Stop-HeartbeatLoop
        Write-FleetLog 'ERROR' "bootstrap failed at step '$($script:RfCurrentStep)': $($_.Exception.Message)"
        if (-not (Test-Marker $script:MarkerLaunchDone)) {
            # A runner registered by this failed launch would stay behind as a manager in GitLab.
            if (Test-RunnerRegistered) {
                $script:RfCurrentStep = 'unregister'
                Write-FleetLog 'WARN' 'the launch failed after registration: unregistering this runner manager before ABANDON'
                try {
                    if (-not (Unregister-RunnerManager)) { Write-FleetLog 'ERROR' 'unregister after the failed launch failed; GitLab removes the stale runner manager after 7 days' }
                } catch { Write-FleetLog 'ERROR' "unregister after the failed launch failed: $($_.Exception.Message)" }
            }
            if ($script:InstanceId -and $script:AsgName) {
                $script:RfCurrentStep = 'abandon'
                Complete-LifecycleAction $env:RF_LAUNCH_HOOK 'ABANDON'
            }
        }
        exit 1
    } finally {
        Stop-HeartbeatLoop
    }
}
