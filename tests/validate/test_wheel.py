"""From a wheel: the installed package alone (no repository on sys.path) runs ``python -m miestim validate``.

The wheel is built offline from a copy of the package sources, installed with pip into a fresh
venv whose only other packages are this interpreter's (torch, numpy, ... through a ``.pth`` file,
which does not pull in an editable install of the repository), and run from a directory outside
the repository with a stub estimator, so it takes seconds.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools", reason="building the wheel offline (--no-build-isolation) needs setuptools")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "miestim", src / "miestim", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(dist), str(src)]
    subprocess.run(build, check=True, capture_output=True, timeout=300)
    wheel = next(dist.glob("miestim-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        entry_points = next(n for n in archive.namelist() if n.endswith("entry_points.txt"))
        assert "miestim = miestim.cli:main" in archive.read(entry_points).decode()

    env_dir = tmp_path_factory.mktemp("venv")
    venv.create(env_dir, with_pip=False)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    deps = [p for p in site.getsitepackages() + [sysconfig.get_paths()["purelib"]] if os.path.isdir(p)]
    Path(purelib, "_miestim_test_deps.pth").write_text("\n".join(dict.fromkeys(deps)) + "\n")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)]
    # Outside the checkout: a miestim.egg-info there (from an earlier build) reads as installed, and pip would skip it.
    subprocess.run(install, check=True, capture_output=True, timeout=300, cwd=dist)
    return python


def test_installed_package_runs_the_validate_command_outside_the_repository(installed, tmp_path):
    (tmp_path / "user_estimator.py").write_text("def constant(x, y):\n    return 0.25\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run(
        [installed, "-c", "import miestim; print(miestim.__file__)"], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    ).stdout
    assert Path(where).resolve().is_relative_to(installed.parents[1].resolve()) and str(ROOT) not in where
    command = ["-m", "miestim", "validate", "--suite", "quick", "--n", "500", "--callable", "user_estimator:constant"]
    proc = subprocess.run([installed, *command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "| task | truth | estimate ± stderr | error | seconds |" in proc.stdout
    assert "| cube(correlated-gaussian-2d-mi1) | 1.000 | 0.250 | -0.750 |" in proc.stdout
    script = installed.parent / ("miestim.exe" if os.name == "nt" else "miestim")
    assert script.exists()
