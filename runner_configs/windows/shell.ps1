# Bootstrap of a shell-executor runner instance (Windows Server 2022).
# Run as SYSTEM by the UserData bootstrap from C:\ProgramData\runner-fleet; safe to run twice.
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
. (Join-Path $PSScriptRoot 'lib\Bootstrap.ps1')

# Jobs run in PowerShell on the host: they need git.
function Initialize-ExecutorPrerequisites {
    if (-not (Get-Command git.exe -ErrorAction SilentlyContinue)) {
        Stop-WithError 'git is not installed; use an AMI with Git for Windows or add it to the image'
    }
}

# Windows PowerShell 5.1 ("powershell"): on every Windows Server 2022 AMI;
# pwsh (PowerShell 7) is not installed by default. Template and register use the same shell.
function Get-ExecutorTemplate {
    Add-RunnerExtraSettings ("[[runners]]`n  executor = `"shell`"`n  shell = `"powershell`"`n" + (Get-RunnerCacheToml))
}

function Get-ExecutorName { 'shell' }

function Get-ExecutorRegisterArgs { @('--shell', 'powershell') }

Invoke-Bootstrap (Join-Path $PSScriptRoot 'shell.ps1')
