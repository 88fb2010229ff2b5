# gitlab-runner on this host; mirrors runner_configs/linux/lib/runner.sh.
# On Windows the runner turns a service stop (SCM stop) into SIGQUIT, a
# graceful drain, so Stop-Service drains: kardianos/service calls the
# runner's RunCommand.Stop on the SCM's stop control, and Stop sets the stop
# signal to SIGQUIT when GOOS is windows (commands/multi.go). That conversion
# came with gitlab-runner commit c5dff92c "Allow graceful termination on
# Windows" (MR !2739), first released in v13.10.0; before it a service stop
# was SIGINT, which aborts running jobs. Older versions are refused.
Set-StrictMode -Version Latest

# The first gitlab-runner whose Windows service stop is graceful (see above).
$script:RfGracefulServiceStopVersion = [version]'13.10.0'

$script:RfRunnerService = 'gitlab-runner'
$script:RfRunnerExe = Join-Path $script:RfRunnerDir 'gitlab-runner.exe'
$script:RfRunnerConfig = Join-Path $script:RfRunnerDir 'config.toml'
$script:RfRunnerSystemIdFile = Join-Path $script:RfRunnerDir '.runner_system_id'
# Accepted by gitlab-runner (commands/internal/configfile/system_id_state.go).
$script:RfSystemIdPattern = '^[sr]_[0-9a-zA-Z]{12}$'

# Get-RunnerSystemId: "s_" + last 12 hex digits of the instance id (legacy
# 8-digit ids left-padded with 0). Same rule as runner_system_id in bash.
function Get-RunnerSystemId([string]$InstanceId) {
    $id = $InstanceId.ToLowerInvariant()
    if ($id -notmatch '^i-([0-9a-f]{8}|[0-9a-f]{17})$') { throw "not an EC2 instance id: '$InstanceId'" }
    $hex = ('000000000000' + $Matches[1])
    return 's_' + $hex.Substring($hex.Length - 12)
}

function Write-RunnerSystemId([string]$InstanceId) {
    $sid = Get-RunnerSystemId $InstanceId
    if ($sid -notmatch $script:RfSystemIdPattern) { Stop-WithError "derived system_id $sid does not match $($script:RfSystemIdPattern)" }
    New-Item -ItemType Directory -Path $script:RfRunnerDir -Force | Out-Null
    if (Write-FileIfChanged $script:RfRunnerSystemIdFile "$sid`n") {
        Protect-RunnerFile $script:RfRunnerSystemIdFile
        Write-FleetLog 'INFO' "system_id $sid written to $($script:RfRunnerSystemIdFile)"
    }
}

# Protect-RunnerFile: only SYSTEM and Administrators may read it.
function Protect-RunnerFile([string]$Path) {
    & icacls.exe $Path /inheritance:r /grant:r 'SYSTEM:(F)' 'Administrators:(F)' | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "icacls failed on $Path" }
}

function Get-RunnerInstalledVersion {
    if (-not (Test-Path -LiteralPath $script:RfRunnerExe)) { return $null }
    $line = & $script:RfRunnerExe --version | Select-String -Pattern '^Version:\s+(\S+)'
    if ($line) { return $line.Matches[0].Groups[1].Value }
    return $null
}

# Assert-RunnerStopIsGraceful VERSION: refuse a gitlab-runner whose service
# stop aborts jobs instead of draining them ('latest' is always newer).
function Assert-RunnerStopIsGraceful([string]$Version) {
    if ($Version -eq 'latest') { return }
    $parsed = $null
    if (-not [version]::TryParse(($Version -replace '[-+~].*$', ''), [ref]$parsed)) {
        Stop-WithError "gitlab-runner version '$Version' does not parse; set RF_RUNNER_VERSION to latest or a version like 17.11.1"
    }
    if ($parsed -lt $script:RfGracefulServiceStopVersion) {
        Stop-WithError "gitlab-runner $Version stops its Windows service by aborting running jobs (graceful service stop since $($script:RfGracefulServiceStopVersion)); set RF_RUNNER_VERSION to $($script:RfGracefulServiceStopVersion) or later"
    }
}

function Install-GitLabRunner([string]$Version) {
    Assert-RunnerStopIsGraceful $Version
    $have = Get-RunnerInstalledVersion
    if ($have -and ($Version -eq 'latest' -or $have -eq $Version)) {
        Assert-RunnerStopIsGraceful $have
        Write-FleetLog 'INFO' "gitlab-runner $have already installed"
        return
    }
    $ref = if ($Version -eq 'latest') { 'latest' } else { "v$Version" }
    $base = "$($script:RfRunnerDownloadBase.TrimEnd('/'))/$ref"
    $name = 'binaries/gitlab-runner-windows-amd64.exe'
    $tmp = Join-Path $env:TEMP 'gitlab-runner-download.exe'
    Invoke-WithRetry "download $name" { Invoke-WebRequest -Uri "$base/$name" -OutFile $tmp -TimeoutSec $script:RfDownloadMaxTimeSeconds -UseBasicParsing }
    $sums = Invoke-WithRetry 'download release.sha256' { (Invoke-WebRequest -Uri "$base/release.sha256" -UseBasicParsing).Content }
    if ($sums -is [byte[]]) { $sums = [Text.Encoding]::UTF8.GetString($sums) }
    $expected = ($sums -split "`n" | Where-Object { $_ -match [regex]::Escape($name) } | Select-Object -First 1) -replace '\s.*$', ''
    $actual = (Get-FileHash -Algorithm SHA256 -LiteralPath $tmp).Hash.ToLowerInvariant()
    if (-not $expected -or $expected.ToLowerInvariant() -ne $actual) {
        Stop-WithError "gitlab-runner binary for $ref does not match release.sha256; refusing to install"
    }
    New-Item -ItemType Directory -Path $script:RfRunnerDir -Force | Out-Null
    if (Get-Service -Name $script:RfRunnerService -ErrorAction SilentlyContinue) { Stop-Service -Name $script:RfRunnerService }
    Move-Item -LiteralPath $tmp -Destination $script:RfRunnerExe -Force
    $installed = Get-RunnerInstalledVersion
    Assert-RunnerStopIsGraceful $installed
    Write-FleetLog 'INFO' "installed gitlab-runner $installed"
}

# Read-RunnerToken: from SSM or Secrets Manager; never logged.
function Read-RunnerToken {
    $source = $env:RF_TOKEN_SOURCE
    if ($source -like 'ssm:?*') {
        $token = & aws --region $env:RF_REGION ssm get-parameter --with-decryption --name $source.Substring(4) --query Parameter.Value --output text
        if ($LASTEXITCODE -ne 0) { Stop-WithError "cannot read the runner token from SSM parameter $($source.Substring(4)); check the name and the instance role" }
    } elseif ($source -like 'secretsmanager:?*') {
        $token = & aws --region $env:RF_REGION secretsmanager get-secret-value --secret-id $source.Substring(15) --query SecretString --output text
        if ($LASTEXITCODE -ne 0) { Stop-WithError "cannot read the runner token from secret $($source.Substring(15)); check the name and the instance role" }
    } else {
        Stop-WithError "RF_TOKEN_SOURCE must be ssm:<name> or secretsmanager:<id>, got '$source'"
    }
    $token = ([string]$token).Trim()
    if (-not $token -or $token -eq 'None') { Stop-WithError "the runner token at $source is empty" }
    if ((Get-Setting 'RF_TOKEN_KIND' 'authentication') -eq 'authentication' -and -not $token.StartsWith('glrt-')) {
        Stop-WithError "the token at $source is not a glrt- runner authentication token (RF_TOKEN_KIND=authentication)"
    }
    return $token
}

function Test-RunnerRegistered {
    (Test-Path -LiteralPath $script:RfRunnerConfig) -and
        [bool](Select-String -LiteralPath $script:RfRunnerConfig -Pattern '^\[\[runners\]\]' -Quiet)
}

function Write-RunnerConfig([int]$Concurrent) {
    if (Test-RunnerRegistered) { Write-FleetLog 'INFO' 'config.toml already registered; global settings kept'; return }
    $toml = @"
# Written by runner-fleet; the [[runners]] entry is added by gitlab-runner register.
concurrent = $Concurrent
check_interval = 3
# Bounds only the forceful path; a drain (service stop = SIGQUIT) waits for jobs.
shutdown_timeout = $($script:RfRunnerShutdownTimeoutSeconds)
listen_address = "$($script:RfRunnerListenAddress)"

[session_server]
  session_timeout = 1800
"@
    if (Write-FileIfChanged $script:RfRunnerConfig $toml) { Protect-RunnerFile $script:RfRunnerConfig }
}

function Get-RunnerCacheToml {
    if (-not $env:RF_CACHE_BUCKET) { return '' }
    return @"
  [runners.cache]
    Type = "s3"
    Shared = true
    [runners.cache.s3]
      BucketName = "$($env:RF_CACHE_BUCKET)"
      BucketLocation = "$($env:RF_REGION)"
      AuthenticationType = "iam"
"@
}

# Register-Runner: the token goes to the child through its environment only.
function Register-Runner([string]$Name, [string]$Executor, [string]$Template, [string[]]$Extra) {
    if (Test-RunnerRegistered) { Write-FleetLog 'INFO' 'config.toml already has a runner; not registering again'; return }
    $token = Read-RunnerToken
    $arguments = @('register', '--non-interactive', '--config', $script:RfRunnerConfig, '--template-config', $Template,
        '--url', $env:RF_GITLAB_URL, '--name', $Name, '--executor', $Executor) + $Extra
    $variable = 'CI_SERVER_TOKEN'
    if ((Get-Setting 'RF_TOKEN_KIND' 'authentication') -eq 'registration') {
        $variable = 'REGISTRATION_TOKEN'
        $arguments += @('--tag-list', (Get-Setting 'RF_RUNNER_TAGS' ''))
    }
    try {
        [Environment]::SetEnvironmentVariable($variable, $token, 'Process')
        & $script:RfRunnerExe @arguments
        $status = $LASTEXITCODE
    } finally {
        [Environment]::SetEnvironmentVariable($variable, $null, 'Process')
        $token = $null
    }
    if ($status -ne 0) {
        Stop-WithError "gitlab-runner register failed (exit $status): check the token at $($env:RF_TOKEN_SOURCE) and that $($env:RF_GITLAB_URL) is reachable"
    }
    Protect-RunnerFile $script:RfRunnerConfig
    Write-FleetLog 'INFO' "registered runner $Name ($Executor)"
}

function Test-RunnerVerified {
    if (-not (Test-RunnerRegistered)) { Stop-WithError 'config.toml has no [[runners]] entry; registration did not happen' }
    for ($attempt = 1; ; $attempt++) {
        & $script:RfRunnerExe verify --config $script:RfRunnerConfig
        if ($LASTEXITCODE -eq 0) { break }
        if ($attempt -ge $script:RfVerifyAttempts) {
            Stop-WithError "gitlab-runner verify failed $attempt times: the token was rejected or $($env:RF_GITLAB_URL) is unreachable"
        }
        Start-Sleep -Seconds ($script:RfRetryBaseSeconds * $attempt)
    }
    Write-FleetLog 'INFO' 'gitlab-runner verify succeeded'
}

# Install-RunnerService: the Windows service, logging to a file the
# CloudWatch agent ships; the runner maps service stop to SIGQUIT itself.
function Install-RunnerService {
    if (-not (Get-Service -Name $script:RfRunnerService -ErrorAction SilentlyContinue)) {
        & $script:RfRunnerExe install --working-directory $script:RfRunnerDir --config $script:RfRunnerConfig
        if ($LASTEXITCODE -ne 0) { throw 'gitlab-runner install (service) failed' }
    }
}

function Start-RunnerService {
    Install-RunnerService
    Set-Service -Name $script:RfRunnerService -StartupType Automatic
    if ((Get-Service -Name $script:RfRunnerService).Status -ne 'Running') { Start-Service -Name $script:RfRunnerService }
    (Get-Service -Name $script:RfRunnerService).WaitForStatus('Running', [TimeSpan]::FromSeconds($script:RfServiceStartTimeoutSeconds))
}

# Get-RunnerServiceState: the service's State and ProcessId (Win32_Service),
# or $null when they cannot be read.
function Get-RunnerServiceState {
    try {
        return Get-CimInstance -ClassName Win32_Service -Filter "Name='$($script:RfRunnerService)'" -ErrorAction Stop
    } catch {
        Write-FleetLog 'WARN' "cannot read the state of $($script:RfRunnerService): $($_.Exception.Message)"
        return $null
    }
}

# Test-RunnerMainRunning: true while the service's process lives (also while
# it is STOP_PENDING and finishing jobs). When the state cannot be read the
# runner counts as running, as in bash: the drain waits until its deadline
# rather than unregistering under running jobs.
function Test-RunnerMainRunning {
    $service = Get-RunnerServiceState
    if ($null -eq $service) { return $true }
    $runnerPid = [int]$service.ProcessId
    if ($runnerPid -le 0) { return $false }
    return $null -ne (Get-Process -Id $runnerPid -ErrorAction SilentlyContinue)
}

function Get-RunnerMetric([string]$Name) {
    $text = (Invoke-WebRequest -Uri $script:RfRunnerMetricsUrl -TimeoutSec 5 -UseBasicParsing).Content
    $sum = 0
    foreach ($line in ($text -split "`n")) {
        if ($line -match "^$Name(\{[^}]*\})?\s+([0-9.eE+-]+)\s*$") { $sum += [double]$Matches[2] }
    }
    return [int]$sum
}
function Get-RunnerBusyJobs { Get-RunnerMetric 'gitlab_runner_jobs' }

# Start-RunnerDrain: SCM stop is a graceful SIGQUIT for gitlab-runner on
# Windows; sent without waiting so the caller can heartbeat.
function Start-RunnerDrain {
    Write-FleetLog 'INFO' "stopping $($script:RfRunnerService) gracefully: no new jobs, running jobs continue"
    & sc.exe stop $script:RfRunnerService | Out-Null
    $code = $LASTEXITCODE
    if ($code -ne 0) { Write-FleetLog 'WARN' "sc.exe stop $($script:RfRunnerService) exited $code" }
    else { Write-FleetLog 'INFO' 'sc.exe stop accepted (exit 0)' }
}

# Stop-RunnerForcefully [MaxWaitSeconds]: the drain ran out of time. While
# the service is STOP_PENDING the SCM accepts no second stop (sc.exe stop
# fails with 1061, "cannot accept control messages"), so the runner's own
# forceful path (a second signal) cannot be reached through the SCM. Only a
# service that is not stopping yet gets a stop and up to MaxWaitSeconds
# (default RF_FORCED_STOP_WAIT_SECONDS); then the service's own process (by
# its PID, never by name: job helpers are called gitlab-runner too) is ended.
# Its jobs are not reported as aborted; GitLab fails them at their timeout.
# The callers leave room for this wait and the unregister before the deadline.
# OnWait (e.g. the drain's heartbeat) runs between checks while it waits.
function Stop-RunnerForcefully([int]$MaxWaitSeconds = $script:RfForcedStopWaitSeconds, [scriptblock]$OnWait = $null) {
    if ($MaxWaitSeconds -gt $script:RfForcedStopWaitSeconds) { $MaxWaitSeconds = $script:RfForcedStopWaitSeconds }
    if ($MaxWaitSeconds -lt 0) { $MaxWaitSeconds = 0 }
    $service = Get-CimInstance -ClassName Win32_Service -Filter "Name='$($script:RfRunnerService)'" -ErrorAction SilentlyContinue
    if (-not $service -or $service.State -eq 'Stopped') { return }
    Write-FleetLog 'WARN' "forcing $($script:RfRunnerService) to stop (state $($service.State)): running jobs are aborted"
    if ($service.State -ne 'Stop Pending') {
        & sc.exe stop $script:RfRunnerService | Out-Null
        Write-FleetLog 'INFO' "sc.exe stop exited $LASTEXITCODE"
        $deadline = (Get-EpochNow) + $MaxWaitSeconds
        while ((Test-RunnerMainRunning) -and (Get-EpochNow) -lt $deadline) {
            if ($OnWait) { & $OnWait }
            Start-Sleep -Milliseconds 500
        }
        if (-not (Test-RunnerMainRunning)) { return }
    } else {
        Write-FleetLog 'INFO' 'service is STOP_PENDING: a second sc.exe stop would fail with 1061; ending its process'
    }
    $runnerPid = [int]$service.ProcessId
    if ($runnerPid -gt 0) {
        Write-FleetLog 'WARN' "ending process $runnerPid of $($script:RfRunnerService); its running jobs fail at their timeout in GitLab"
        Stop-Process -Id $runnerPid -Force -ErrorAction SilentlyContinue
        Wait-Process -Id $runnerPid -Timeout ([Math]::Max(1, $MaxWaitSeconds)) -ErrorAction SilentlyContinue
    }
}

# Unregister-RunnerManager [MaxSeconds]: with glrt- tokens, removes only
# this system_id's manager. Bounded (default RF_UNREGISTER_TIMEOUT_SECONDS):
# GitLab not answering must not hold the drain; the process is then ended.
function Unregister-RunnerManager([int]$MaxSeconds = $script:RfUnregisterTimeoutSeconds) {
    if (-not (Test-RunnerRegistered)) { Write-FleetLog 'INFO' 'no runner in config.toml; nothing to unregister'; return $true }
    if ($MaxSeconds -lt 1) { $MaxSeconds = 1 }
    $process = Start-Process -FilePath $script:RfRunnerExe -NoNewWindow -PassThru `
        -ArgumentList @('unregister', '--config', "`"$($script:RfRunnerConfig)`"", '--all-runners')
    # Reading Handle now keeps ExitCode available after the process ends (.NET caches it).
    $null = $process.Handle
    if (-not $process.WaitForExit($MaxSeconds * 1000)) {
        Stop-Process -Id $process.Id -Force -ErrorAction SilentlyContinue
        Write-FleetLog 'ERROR' "gitlab-runner unregister did not finish within $($MaxSeconds)s (GitLab not answering); stopped it"
        return $false
    }
    if ($process.ExitCode -ne 0 -or (Test-RunnerRegistered)) {
        Write-FleetLog 'ERROR' 'gitlab-runner unregister left the runner in config.toml'
        return $false
    }
    Write-FleetLog 'INFO' 'runner manager unregistered'
    return $true
}
