"""The other libraries' virtual environments: where they live, how they are made, whether they work.

torch-mist, bmi, frites and latentmi pin versions that clash with miestim's environment (bmi
0.1.3 imports only with jax/jaxlib 0.4.30, pydantic < 2 and numpy < 2; latentmi 0.1.3 wants
numpy < 2; frites brings mne and xarray), so each gets its own virtual environment and runs as a
subprocess (``_workers/``). ``python -m benchmarks compare-setup`` makes them;
it is idempotent (a working environment is left alone) and reports failures without raising,
and the comparison skips a library whose environment is missing or broken, with a message.

The environments live in ``.bench-venvs/`` at the repository root (git-ignored); set
``MIESTIM_BENCH_VENVS`` to put them elsewhere.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import venv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "MIESTIM_BENCH_VENVS"
WORKERS = Path(__file__).resolve().parent / "_workers"


@dataclass(frozen=True)
class Library:
    """An external library: its environment's name, the pip installs that make it (in order), the import that proves it."""

    name: str
    installs: tuple[tuple[str, ...], ...]
    check: str
    worker: str


#: torch first, alone: ``torch==2.13.0`` is a local CPU wheel; letting the resolver pick torch
#: for torch-mist would fetch a multi-GB CUDA build. torch-mist imports pandas without declaring
#: it and declares numpy < 2, which a bare ``pip install pandas`` would break.
LIBRARIES = {
    "torch-mist": Library(
        "torch-mist",
        (("torch==2.13.0",), ("torch-mist==0.2.17", "numpy<2", "pandas<3")),
        "import torch_mist, torch; print(torch_mist.__version__, torch.__version__)",
        "torch_mist_worker.py",
    ),
    "bmi": Library(
        "bmi",
        (("jax==0.4.30", "jaxlib==0.4.30", "pydantic<2", "numpy<2", "benchmark-mi==0.1.3"),),
        "import bmi, jax; print(jax.__version__)",
        "bmi_worker.py",
    ),
    # frites needs no torch: numpy, scipy, mne, xarray, netCDF4, h5netcdf, scikit-learn, joblib.
    "frites": Library(
        "frites",
        (("frites==0.4.6",),),
        "import frites, numpy; from frites.core import copnorm_nd, mi_nd_gg; print(frites.__version__, numpy.__version__)",
        "frites_worker.py",
    ),
    # latentmi declares torch >= 2.3, numpy < 2, scikit-learn, scipy and tqdm: torch first and alone, as for torch-mist.
    "latentmi": Library(
        "latentmi",
        (("torch==2.13.0",), ("latentmi==0.1.3", "numpy<2")),
        "import latentmi, torch; from latentmi import lmi; print(latentmi.__version__, torch.__version__)",
        "latentmi_worker.py",
    ),
}


def venvs_dir() -> Path:
    """Where the environments are: ``$MIESTIM_BENCH_VENVS`` or ``<repo>/.bench-venvs``."""
    return Path(os.environ.get(ENV_VAR) or ROOT / ".bench-venvs")


def python_of(library: str) -> Path:
    return venvs_dir() / library / "bin" / "python"


def probe(library: str) -> tuple[bool, str]:
    """Whether ``library``'s environment imports it: ``(True, versions)`` or ``(False, why not)``."""
    python = python_of(library)
    if not python.exists():
        return False, f"no environment at {python.parent.parent} (run: python -m benchmarks compare-setup)"
    try:
        proc = subprocess.run([str(python), "-c", LIBRARIES[library].check], capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{python} did not run: {exc}"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return False, f"{python} cannot import {library}: {last} (rerun: python -m benchmarks compare-setup)"
    return True, proc.stdout.strip()


def available() -> dict[str, str | None]:
    """For each library, ``None`` when usable, else the message explaining why it is skipped."""
    return {name: (None if ok else why) for name, (ok, why) in ((name, probe(name)) for name in LIBRARIES)}


def make(library: str, *, force: bool = False) -> tuple[bool, str]:
    """Create (or repair) one environment; leaves a working one alone unless ``force``."""
    if not force:
        ok, info = probe(library)
        if ok:
            return True, f"already set up ({info})"
    target = venvs_dir() / library
    try:
        venv.EnvBuilder(with_pip=True, clear=force).create(target)
    except Exception as exc:  # noqa: BLE001 - the runner reports every failure; the library raises
        return False, f"could not create the environment {target}: {exc}"
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    for packages in LIBRARIES[library].installs:
        print(f"  [{library}] pip install {' '.join(packages)}", flush=True)
        proc = subprocess.run(pip + list(packages), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
            return False, f"pip install {' '.join(packages)} failed:\n{tail}"
    return probe(library)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks compare-setup``: create the external libraries' environments."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks compare-setup", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--libraries", nargs="+", choices=sorted(LIBRARIES), default=sorted(LIBRARIES))
    parser.add_argument("--force", action="store_true", help="recreate the environments from scratch")
    parser.add_argument("--check", action="store_true", help="only report whether each environment works")
    args = parser.parse_args(argv)
    print(f"environments in {venvs_dir()} (override with ${ENV_VAR})")
    failed = []
    for name in args.libraries:
        ok, info = probe(name) if args.check else make(name, force=args.force)
        print(f"{name}: {'ok' if ok else 'FAILED'} - {info}", flush=True)
        if not ok:
            failed.append(name)
    if failed:
        print(f"\n{', '.join(failed)} unavailable: the comparison will skip {'it' if len(failed) == 1 else 'them'} with a message.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
