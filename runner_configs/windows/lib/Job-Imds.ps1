# The Windows side of lib/job-imds.sh, which on Linux refuses IMDS to the
# shell executor's job user with a firewall rule. On Windows there is no such
# user to match: the gitlab-runner service runs as LocalSystem and the shell
# executor runs every job as that same account, and the runner itself needs
# IMDS (it signs the S3 cache URLs with the instance role). A Windows Firewall
# rule matches a user (-LocalUser) or a program (-Program), and neither tells a
# job from the runner or the lifecycle agent: same account, same programs
# (powershell.exe, aws.exe), and a job can start any program. So no rule is
# set, and the launch log says so; docs/security.md lists what a Windows
# shell job can reach with the instance role.
Set-StrictMode -Version Latest

# Block-JobImds: states, in the launch log, that jobs keep IMDS on this host.
function Block-JobImds {
    if ($env:RF_EXECUTOR -eq 'shell') {
        Write-FleetLog 'WARN' 'Windows shell jobs run as the runner service account and can reach instance metadata (the instance role); see docs/security.md'
    } else {
        Write-FleetLog 'INFO' 'job containers reach no instance metadata: the launch template allows one hop only'
    }
}
