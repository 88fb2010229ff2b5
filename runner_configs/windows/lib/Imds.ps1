# IMDSv2 client; mirrors runner_configs/linux/lib/imds.sh. The endpoint comes
# from AWS_EC2_METADATA_SERVICE_ENDPOINT so tests can use a local double.
Set-StrictMode -Version Latest

$script:RfImdsEndpoint = (Get-Setting 'AWS_EC2_METADATA_SERVICE_ENDPOINT' 'http://169.254.169.254').TrimEnd('/')
$script:ImdsToken = ''
$script:ImdsTokenAt = 0

function Update-ImdsToken {
    $now = Get-EpochNow
    if ($script:ImdsToken -and ($now - $script:ImdsTokenAt) -lt $script:RfImdsTokenRenewSeconds) { return }
    $script:ImdsToken = Invoke-RestMethod -Method Put -Uri "$($script:RfImdsEndpoint)/latest/api/token" `
        -Headers @{ 'X-aws-ec2-metadata-token-ttl-seconds' = "$($script:RfImdsTokenTtlSeconds)" } `
        -TimeoutSec $script:RfImdsMaxTimeSeconds -UseBasicParsing
    $script:ImdsTokenAt = $now
}

# Get-ImdsValue PATH: the value, or $null when the path is absent (404). A
# 401 (token expired or revoked) drops the token and retries at once with a
# new one, once per read and without a back-off attempt; the token lives in
# script scope, so the new one serves the later reads too.
function Get-ImdsValue([string]$Path) {
    Invoke-WithRetry "IMDS $Path" {
        for ($renewed = $false; ; $renewed = $true) {
            Update-ImdsToken
            try {
                $response = Invoke-WebRequest -Uri "$($script:RfImdsEndpoint)/latest/meta-data/$Path" `
                    -Headers @{ 'X-aws-ec2-metadata-token' = $script:ImdsToken } `
                    -TimeoutSec $script:RfImdsMaxTimeSeconds -UseBasicParsing
                return [string]$response.Content
            } catch [System.Net.WebException] {
                $status = 0
                if ($_.Exception.Response) { $status = [int]$_.Exception.Response.StatusCode }
                if ($status -eq 404) { return $null }
                if ($status -eq 401) {
                    $script:ImdsToken = ''
                    if (-not $renewed) {
                        Write-FleetLog 'INFO' "IMDS token refused (401) for $Path; fetching a new one"
                        continue
                    }
                }
                throw
            }
        }
    }
}

function Get-ImdsInstanceId { Get-ImdsValue 'instance-id' }
function Get-ImdsRegion { Get-ImdsValue 'placement/region' }
function Get-ImdsAsgName { Get-ImdsValue 'tags/instance/aws:autoscaling:groupName' }
function Get-ImdsLifecycleState { Get-ImdsValue 'autoscaling/target-lifecycle-state' }
function Get-ImdsSpotAction { Get-ImdsValue 'spot/instance-action' }
function Get-ImdsRebalance { Get-ImdsValue 'events/recommendations/rebalance' }
