# What the host installs from vendor packages: the AWS CLI and the CloudWatch
# agent when the AMI lacks them (MSIs; Windows has no package manager the
# scripts use). Mirrors runner_configs/linux/lib/packages.sh; gitlab-runner's
# own binary is Runner.ps1's (Install-GitLabRunner). Requires Common.ps1.
Set-StrictMode -Version Latest

$script:RfCwAgentDownloadBase = Get-Setting 'RF_CWAGENT_DOWNLOAD_BASE' 'https://amazoncloudwatch-agent.s3.amazonaws.com'
$script:RfCwAgentCtl = Join-Path $env:ProgramFiles 'Amazon\AmazonCloudWatchAgent\amazon-cloudwatch-agent-ctl.ps1'

# Install-CloudWatchAgent: not on every Windows AMI; the official MSI from
# the amazoncloudwatch-agent bucket when missing.
function Install-CloudWatchAgent {
    if (Test-Path -LiteralPath $script:RfCwAgentCtl) { return }
    $msi = Join-Path $env:TEMP 'amazon-cloudwatch-agent.msi'
    $url = "$($script:RfCwAgentDownloadBase.TrimEnd('/'))/windows/amd64/latest/amazon-cloudwatch-agent.msi"
    Write-FleetLog 'INFO' "installing the CloudWatch agent from $url"
    Invoke-WithRetry 'download amazon-cloudwatch-agent.msi' { Invoke-WebRequest -Uri $url -OutFile $msi -TimeoutSec $script:RfDownloadMaxTimeSeconds -UseBasicParsing }
    $process = Start-Process -FilePath 'msiexec.exe' -ArgumentList @('/i', "`"$msi`"", '/qn', '/norestart') -Wait -PassThru
    if ($process.ExitCode -notin @(0, 3010)) { Stop-WithError "CloudWatch agent MSI failed with exit code $($process.ExitCode)" }
    Remove-Item -LiteralPath $msi -Force -ErrorAction SilentlyContinue
    if (-not (Test-Path -LiteralPath $script:RfCwAgentCtl)) { Stop-WithError "CloudWatch agent installed but $($script:RfCwAgentCtl) is missing" }
}

# Install-AwsCli: the AWS CLI v2 MSI when aws.exe is missing (the scripts
# call it for lifecycle actions, protection, metrics and the token).
function Install-AwsCli {
    if (Get-Command aws -ErrorAction SilentlyContinue) { return }
    $msi = Join-Path $env:TEMP 'AWSCLIV2.msi'
    Invoke-WithRetry 'download AWSCLIV2.msi' { Invoke-WebRequest -Uri 'https://awscli.amazonaws.com/AWSCLIV2.msi' -OutFile $msi -TimeoutSec $script:RfDownloadMaxTimeSeconds -UseBasicParsing }
    $process = Start-Process -FilePath 'msiexec.exe' -ArgumentList @('/i', "`"$msi`"", '/qn', '/norestart') -Wait -PassThru
    if ($process.ExitCode -notin @(0, 3010)) { Stop-WithError "AWS CLI MSI failed with exit code $($process.ExitCode)" }
    $env:Path = "$env:Path;$env:ProgramFiles\Amazon\AWSCLIV2"
}
