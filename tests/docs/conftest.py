"""What the documentation tests share: one ``mkdocs build --strict`` of the site, the build's own
modules under ``docs/`` and a headless Chromium to look at the pages with."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
CHROMIUM_PACKAGE = "chromium"  # Debian's


def load_docs_module(relative: str) -> ModuleType:
    """A module of ``docs/`` (not a package: the build loads these files by path, and so do the tests)."""
    path = DOCS / relative
    spec = importlib.util.spec_from_file_location(f"miestim_docs_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def hooks() -> ModuleType:
    return load_docs_module("_ext/hooks.py")


@pytest.fixture(scope="session")
def screenshot() -> ModuleType:
    return load_docs_module("screenshot.py")


@pytest.fixture(scope="session")
def site(build_once, screenshot) -> Path:
    """The site, built once for the run with ``mkdocs build --strict`` (shared by the xdist workers)."""

    def build(out: Path) -> None:
        try:
            screenshot.build_site(out)
        except RuntimeError as error:
            pytest.fail(str(error))

    return build_once("site", build)


def _apt_get(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="session")
def chromium(tmp_path_factory) -> str:
    """Chromium's executable; installed from Debian's packages when missing and this is root with apt."""
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip(f"headless Chromium is needed to read the rendered pages: install Debian's `{CHROMIUM_PACKAGE}` package")
    # pytest-xdist workers share the parent of their temporary folders: one installs while the other waits, since
    # dpkg's lock would fail a second apt-get run at the same time.
    with (tmp_path_factory.getbasetemp().parent / "chromium.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return shutil.which("chromium") or _install_chromium()


def _install_chromium() -> str:
    install = ("install", "-y", "--no-install-recommends", CHROMIUM_PACKAGE)
    proc = _apt_get(*install)
    if proc.returncode != 0:  # a fresh machine may have no package lists yet
        update = _apt_get("update")
        proc = _apt_get(*install) if update.returncode == 0 else update
    found = shutil.which("chromium")
    if found is None:
        why = f"`apt-get {' '.join(proc.args[1:])}` exited {proc.returncode}"
        pytest.skip(f"no Chromium to read the rendered pages with ({why}):\n{proc.stderr[-2000:]}")
    return found
