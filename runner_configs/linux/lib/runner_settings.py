#!/usr/bin/env python3
"""Adds the consumer's extra gitlab-runner settings to a config.toml template.

Usage: runner_settings.py < template.toml > template-with-extras.toml
Reads RF_RUNNER_EXTRA_SETTINGS ([[runners]] keys) and RF_DOCKER_EXTRA_SETTINGS
([runners.docker] keys) from the environment, each empty or a JSON object.
Every extra key replaces the template's line for the same key in that table
and is written as one `key = value` line; nested objects become TOML inline
tables and lists of objects (docker services) arrays of inline tables, so no
table is ever opened twice. A table the template lacks is appended.
`runner-fleet deploy` has already refused unknown keys (scripts/config/
runner-settings.ts); this only turns valid JSON into TOML.
Exit 0 on success, 2 when a value is not a JSON object or holds a null.
Python 3.9 standard library only (Amazon Linux 2023 ships 3.9).
"""
import json
import os
import re
import sys

HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*$")
KEY_LINE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_-]+)\s*=')
BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
SOURCES = (("runners", "RF_RUNNER_EXTRA_SETTINGS"), ("runners.docker", "RF_DOCKER_EXTRA_SETTINGS"))


class SettingsError(Exception):
    pass


def toml_key(key):
    return key if BARE_KEY.match(key) else json.dumps(key)


def toml_value(value, where):
    # bool before int: in Python True is an int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # JSON's string escapes are a subset of TOML basic strings'.
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item, where) for item in value) + "]"
    if isinstance(value, dict):
        items = [f"{toml_key(k)} = {toml_value(v, f'{where}.{k}')}" for k, v in value.items()]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise SettingsError(f"{where}: null has no TOML form; leave the key out instead")


def parse_extras(variable):
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return {}
    try:
        extras = json.loads(raw)
    except ValueError as error:
        raise SettingsError(f"{variable} is not valid JSON: {error}") from error
    if not isinstance(extras, dict):
        raise SettingsError(f"{variable} must be a JSON object")
    return extras


def table_bounds(lines, table):
    """(header index, end index) of the first table named `table`, or None."""
    for index, line in enumerate(lines):
        match = HEADER.match(line)
        if match and match.group(1) == table:
            end = index + 1
            while end < len(lines) and not HEADER.match(lines[end]):
                end += 1
            return index, end
    return None


def line_key(line):
    match = KEY_LINE.match(line)
    if not match:
        return None
    key = match.group(1)
    return json.loads(key) if key.startswith('"') else key


def inject(text, table, extras):
    if not extras:
        return text
    lines = text.rstrip("\n").split("\n")
    bounds = table_bounds(lines, table)
    if bounds is None:
        lines.append("  " * table.count(".") + f"[{table}]")
        bounds = (len(lines) - 1, len(lines))
    start, end = bounds
    indent = "  " * (table.count(".") + 1)
    body = [line for line in lines[start + 1 : end] if line_key(line) not in extras]
    while body and not body[-1].strip():
        body.pop()
    added = [f"{indent}{toml_key(k)} = {toml_value(v, f'{table}.{k}')}" for k, v in extras.items()]
    return "\n".join(lines[: start + 1] + body + added + lines[end:]) + "\n"


def main():
    text = sys.stdin.read()
    try:
        for table, variable in SOURCES:
            text = inject(text, table, parse_extras(variable))
    except SettingsError as error:
        print(f"runner_settings.py: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
