import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

# Two cores here and in CI, shared by the pytest-xdist workers: each worker gets an equal share of them, so results
# and timings do not depend on the runner, and two workers never oversubscribe the cores.
_CORES = 2
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, _CORES // _WORKERS))


def _build_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """``name``'s folder, filled by ``build(folder)`` once per test run: pytest-xdist workers share it.

    The first worker to get here builds while holding a lock in the folder the workers' temporary folders share;
    the others wait and reuse its result. A failed build leaves no mark, so each worker that needs it fails alike.
    """
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent
    out, done = root / name, root / f"{name}.built"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            build(out)
            done.touch()
    return out


@pytest.fixture(scope="session")
def build_once(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Callable[[Path], None]], Path]:
    """``build_once(name, build)``: a folder built once per run however many workers ask (see ``_build_once``)."""
    return lambda name, build: _build_once(tmp_path_factory, name, build)
