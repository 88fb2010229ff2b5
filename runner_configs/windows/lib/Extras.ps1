# The consumer's extra gitlab-runner settings (stack parameters
# RunnerExtraSettings and RunnerDockerExtraSettings, fleet.env
# RF_RUNNER_EXTRA_SETTINGS and RF_DOCKER_EXTRA_SETTINGS, JSON objects) added
# to the [[runners]] template before register: the same rules as
# runner_configs/linux/lib/runner_settings.py. Each extra key replaces the
# template's line for that key in its table and is written as one
# `key = value` line (objects as TOML inline tables), so no table is opened
# twice; a table the template lacks is appended. `runner-fleet deploy` has
# already refused unknown keys. Requires lib\Common.ps1.
Set-StrictMode -Version Latest

function ConvertTo-TomlKey([string]$Key) {
    if ($Key -match '^[A-Za-z0-9_-]+$') { return $Key }
    return (ConvertTo-Json -InputObject $Key -Compress)
}

# ConvertTo-TomlValue: strings before IEnumerable (a string is one), bool before numbers.
function ConvertTo-TomlValue($Value, [string]$Where) {
    if ($null -eq $Value) { throw "${Where}: null has no TOML form; leave the key out instead" }
    if ($Value -is [string]) { return (ConvertTo-Json -InputObject $Value -Compress) }
    if ($Value -is [bool]) { if ($Value) { return 'true' } else { return 'false' } }
    if ($Value -is [int] -or $Value -is [long] -or $Value -is [decimal] -or $Value -is [double]) {
        return [string]::Format([System.Globalization.CultureInfo]::InvariantCulture, '{0}', $Value)
    }
    if ($Value -is [System.Management.Automation.PSCustomObject]) {
        $pairs = @($Value.PSObject.Properties | ForEach-Object {
                '{0} = {1}' -f (ConvertTo-TomlKey $_.Name), (ConvertTo-TomlValue $_.Value "$Where.$($_.Name)")
            })
        if ($pairs.Count -eq 0) { return '{}' }
        return '{ ' + ($pairs -join ', ') + ' }'
    }
    if ($Value -is [System.Collections.IEnumerable]) {
        $items = @(foreach ($item in $Value) { ConvertTo-TomlValue $item $Where })
        return '[' + ($items -join ', ') + ']'
    }
    throw "${Where}: a value of type $($Value.GetType().Name) has no TOML form"
}

function Get-TomlLineKey([string]$Line) {
    if ($Line -match '^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)\s*=') {
        $key = $Matches[1]
        if ($key.StartsWith('"')) { return (ConvertFrom-Json $key) }
        return $key
    }
    return $null
}

function Add-TomlTableSettings([string[]]$Lines, [string]$Table, $Extras) {
    $header = '^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*$'
    $start = -1
    for ($i = 0; $i -lt $Lines.Count; $i++) {
        if ($Lines[$i] -match $header -and $Matches[1] -eq $Table) { $start = $i; break }
    }
    if ($start -lt 0) {
        $Lines = @($Lines) + @(('  ' * ($Table.Split('.').Count - 1)) + "[$Table]")
        $start = $Lines.Count - 1
    }
    $end = $start + 1
    while ($end -lt $Lines.Count -and $Lines[$end] -notmatch $header) { $end++ }
    $names = @($Extras.PSObject.Properties | ForEach-Object { $_.Name })
    # Ranges run backwards when empty, and strict mode refuses an index past the end.
    $body = @()
    if ($end -gt $start + 1) {
        $body = @($Lines[($start + 1)..($end - 1)] | Where-Object { $names -notcontains (Get-TomlLineKey $_) })
    }
    while ($body.Count -gt 0 -and -not $body[-1].Trim()) { $body = @($body | Select-Object -SkipLast 1) }
    $indent = '  ' * $Table.Split('.').Count
    $added = @($Extras.PSObject.Properties | ForEach-Object {
            '{0}{1} = {2}' -f $indent, (ConvertTo-TomlKey $_.Name), (ConvertTo-TomlValue $_.Value "$Table.$($_.Name)")
        })
    $before = @($Lines[0..$start])
    $after = @()
    if ($end -lt $Lines.Count) { $after = @($Lines[$end..($Lines.Count - 1)]) }
    return @($before + $body + $added + $after)
}

# Add-RunnerExtraSettings TEMPLATE: the template with the extras added;
# unchanged without extras. Stops the launch on a value that is not a JSON object.
function Add-RunnerExtraSettings([string]$Template) {
    $sources = @(@('runners', 'RF_RUNNER_EXTRA_SETTINGS'), @('runners.docker', 'RF_DOCKER_EXTRA_SETTINGS'))
    $lines = @($Template.TrimEnd("`r", "`n") -split "`r?`n")
    foreach ($source in $sources) {
        $raw = Get-Setting $source[1] ''
        if (-not $raw.Trim()) { continue }
        try { $extras = ConvertFrom-Json $raw } catch { Stop-WithError "$($source[1]) is not valid JSON: $_" }
        if ($extras -isnot [System.Management.Automation.PSCustomObject]) { Stop-WithError "$($source[1]) must be a JSON object" }
        try { $lines = Add-TomlTableSettings $lines $source[0] $extras } catch { Stop-WithError "the extra runner settings could not be written: $_" }
    }
    return (($lines -join "`n") + "`n")
}
