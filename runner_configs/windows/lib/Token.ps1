# The runner token over the instance's life; mirrors
# runner_configs/linux/lib/token.sh step for step. The fleet shares one
# glrt- token, so no instance may rotate it: gitlab-runner resets a token by
# itself when config.toml has a token_expires_at (commands/multi.go,
# resetOneRunnerToken), so the launch sets it to zero. A token rotated
# centrally (runner-fleet rotate-token) is a new version of the SSM parameter;
# the lifecycle agent swaps it into config.toml, which gitlab-runner reloads
# without touching running jobs. Dot-sourced by Bootstrap.ps1 and the lifecycle agent.
Set-StrictMode -Version Latest

# How often the agent asks SSM for the parameter's version (see the bash twin).
$script:RfTokenWatchIntervalSeconds = [int](Get-Setting 'RF_TOKEN_WATCH_INTERVAL_SECONDS' 30)
$script:RfTokenNoExpiry = '0001-01-01T00:00:00Z'
$script:TokenNextCheck = 0

# Clear-RunnerTokenExpiry: token_expires_at zero, so this host never resets the shared token.
function Clear-RunnerTokenExpiry {
    if (-not (Test-Path -LiteralPath $script:RfRunnerConfig)) { return }
    $text = Get-Content -LiteralPath $script:RfRunnerConfig -Raw
    if ($text -notmatch '(?m)^\s*token_expires_at = ' -or $text -match "(?m)^\s*token_expires_at = $([regex]::Escape($script:RfTokenNoExpiry))\s*$") { return }
    Write-RunnerTokenConfig ''
    Write-FleetLog 'INFO' 'token_expires_at cleared in config.toml: this host never rotates the shared runner token'
}

# Write-RunnerTokenConfig: rewrite config.toml (temp file in the same
# directory, then replace) with token_expires_at zero and, when given, the new token.
function Write-RunnerTokenConfig([string]$Token) {
    $lines = Get-Content -LiteralPath $script:RfRunnerConfig
    $out = foreach ($line in $lines) {
        if ($line -match '^(\s*token_expires_at = ).*$') { $Matches[1] + $script:RfTokenNoExpiry }
        elseif ($Token -and $line -match '^(\s*token = )".*"(.*)$') { $Matches[1] + '"' + $Token + '"' + $Matches[2] }
        else { $line }
    }
    $tmp = "$($script:RfRunnerConfig).tmp"
    # UTF-8 without a byte order mark, as Write-FileIfChanged writes config.toml.
    [IO.File]::WriteAllText($tmp, (($out -join "`n") + "`n"), (New-Object Text.UTF8Encoding($false)))
    Protect-RunnerFile $tmp
    Move-Item -LiteralPath $tmp -Destination $script:RfRunnerConfig -Force
}

function Get-TokenParameterVersion([string]$Name) {
    $version = & aws --region $env:RF_REGION ssm get-parameter --name $Name --query Parameter.Version --output text
    if ($LASTEXITCODE -ne 0) { throw "cannot read the version of SSM parameter $Name" }
    return ([string]$version).Trim()
}

function Get-RunnerConfigToken {
    $line = Select-String -LiteralPath $script:RfRunnerConfig -Pattern '^\s*token = "([^"]*)"' | Select-Object -First 1
    if ($line) { return $line.Matches[0].Groups[1].Value }
    return ''
}

# Test-TokenWatchDue: true at most every RfTokenWatchIntervalSeconds, SSM tokens only.
function Test-TokenWatchDue {
    if ($env:RF_TOKEN_SOURCE -notlike 'ssm:?*') { return $false }
    $now = Get-EpochNow
    if ($now -lt $script:TokenNextCheck) { return $false }
    $script:TokenNextCheck = $now + $script:RfTokenWatchIntervalSeconds
    return $true
}

# Watch-RunnerToken: every pass of the agent's loop; syncs when due.
function Watch-RunnerToken {
    if (Test-TokenWatchDue) { Sync-RunnerToken }
}

# Sync-RunnerToken: a new SSM version is read and swapped into config.toml. Never throws.
function Sync-RunnerToken {
    if (-not (Test-RunnerRegistered)) { return }
    $name = $env:RF_TOKEN_SOURCE.Substring(4)
    $versionFile = Join-Path $script:RfStateDir 'token-version'
    try { $version = Get-TokenParameterVersion $name }
    catch { Write-FleetLog 'WARN' "cannot read the version of SSM parameter $name; checking again in $($script:RfTokenWatchIntervalSeconds)s"; return }
    $known = if (Test-Path -LiteralPath $versionFile) { (Get-Content -LiteralPath $versionFile -Raw).Trim() } else { '' }
    if ($version -eq $known) { return }
    try { $token = Read-RunnerToken }
    catch { Write-FleetLog 'WARN' "SSM parameter $name is at version $version but its token cannot be read; retrying"; return }
    if ($token -notmatch '^[A-Za-z0-9._-]+$') {
        Write-FleetLog 'WARN' "SSM parameter $name version $version does not hold a runner token; config.toml left as it is"
        return
    }
    if ($token -ne (Get-RunnerConfigToken)) {
        try { Write-RunnerTokenConfig $token }
        catch { Write-FleetLog 'WARN' "could not rewrite config.toml with token version ${version}; retrying"; return }
        Write-FleetLog 'INFO' "runner token version $version of $name swapped into config.toml; gitlab-runner reloads it, running jobs go on"
    }
    New-Item -ItemType Directory -Path $script:RfStateDir -Force | Out-Null
    Set-Content -LiteralPath $versionFile -Value $version
}
