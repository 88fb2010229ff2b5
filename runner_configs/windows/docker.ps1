# Bootstrap of a Windows docker-executor runner instance (Windows Server 2022
# with the Containers feature and Docker, e.g. the ECS-optimized or
# "with Containers" AMI). Run as SYSTEM from C:\ProgramData\runner-fleet; safe to run twice.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'lib\Bootstrap.ps1')

function Initialize-ExecutorPrerequisites {
    $docker = Get-Service -Name 'docker' -ErrorAction SilentlyContinue
    if (-not $docker) { Stop-WithError 'the docker service is missing; use a Windows AMI with Containers and Docker' }
    Set-Service -Name 'docker' -StartupType Automatic
    if ($docker.Status -ne 'Running') { Start-Service -Name 'docker' }
}

function Get-ExecutorImage { Get-Setting 'RF_DOCKER_IMAGE' 'mcr.microsoft.com/windows/servercore:ltsc2022' }

function Get-ExecutorTemplate {
    Add-RunnerExtraSettings (@"
[[runners]]
  executor = "docker-windows"
  [runners.docker]
    image = "$(Get-ExecutorImage)"
    volumes = ["c:\\cache"]
"@ + "`n" + (Get-RunnerCacheToml))
}

function Get-ExecutorName { 'docker-windows' }

function Get-ExecutorRegisterArgs { @('--docker-image', (Get-ExecutorImage)) }

Invoke-Bootstrap (Join-Path $PSScriptRoot 'docker.ps1')
