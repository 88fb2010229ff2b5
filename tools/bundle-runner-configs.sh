#!/usr/bin/env bash
# Builds the instance bundles of docs/instance-contract.md:
#   dist/runner-configs/runner-configs-linux.tar.gz   (runner_configs/linux/)
#   dist/runner-configs/runner-configs-windows.zip    (runner_configs/windows/)
# Reproducible: sorted entries, fixed mtimes, owner 0, fixed modes (0755 for
# *.sh, 0644 otherwise), no gzip timestamp. Prints "<sha256>  <file>" per
# bundle. Usage: bundle-runner-configs.sh [OUT_DIR]. Exit 0 on success.
set -Eeuo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/dist/runner-configs}"
mkdir -p "$out"

python3 - "$root/runner_configs" "$out" <<'PY'
import gzip, io, os, sys, tarfile, zipfile

src, out = sys.argv[1], sys.argv[2]
EPOCH = 315532800  # 1980-01-01: the earliest time a zip entry can hold

def files(base):
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in filenames:
            full = os.path.join(dirpath, name)
            found.append((os.path.relpath(full, base).replace(os.sep, "/"), full))
    return sorted(found)

def mode(rel):
    return 0o755 if rel.endswith(".sh") else 0o644

linux = os.path.join(out, "runner-configs-linux.tar.gz")
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
    for rel, full in files(os.path.join(src, "linux")):
        info = tarfile.TarInfo(rel)
        data = open(full, "rb").read()
        info.size, info.mtime, info.mode = len(data), EPOCH, mode(rel)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(data))
with open(linux, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
    gz.write(buf.getvalue())

windows = os.path.join(out, "runner-configs-windows.zip")
with zipfile.ZipFile(windows, "w", zipfile.ZIP_DEFLATED) as z:
    for rel, full in files(os.path.join(src, "windows")):
        info = zipfile.ZipInfo(rel, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode(rel)) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3
        z.writestr(info, open(full, "rb").read())
PY

(cd "$out" && sha256sum runner-configs-linux.tar.gz runner-configs-windows.zip)
