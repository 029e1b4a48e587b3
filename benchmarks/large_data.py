"""Time and peak memory of :func:`miestim.estimate_mi` on large data read from memory-mapped ``.npy`` files.

For each N the samples (``dim`` = 16 columns of X and of Y by default, a correlated Gaussian
with a known MI) are written chunk by chunk to two ``.npy`` files by one subprocess; then a
**fresh Python process** opens them with ``np.load(..., mmap_mode="r")`` and runs
``estimate_mi`` with its defaults on the memory maps, so the peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is that one run's, N by N. It includes the
Python, numpy and torch runtime (the ``import RSS`` column) and the pages of the
memory-mapped files that were read.

On Linux a process's ``ru_maxrss`` starts at the peak RSS of the process that spawned it (the
kernel carries the old address space's high-water mark across ``fork``/``exec``). The worker is
therefore started through a bare Python launcher, whose own RSS is small, so that the
benchmark's (or pytest's) memory is not counted.

The default estimator's training is its own (``--max-steps`` caps it); what grows with N is
the library's handling of the data: the rank standardisation, the covariances of the
Gaussian-copula critic, the subsample race of the other families (issue 30: time no faster
than N), and the held-out and bias-corrected readouts.

Usage::

    python -m benchmarks.large_data                     # N = 1e4, 1e5, 1e6; d = 16
    python -m benchmarks.large_data --quick             # N = 1e3, 1e4
    python -m benchmarks.large_data --json out.json     # also write the rows
    python -m benchmarks.large_data --sizes 20000 --dim 32 --max-steps 50

Exit status 0, or 1 when a run fails (its error is printed in the table).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

import miestim

from ._report import header, markdown_table, run_metadata, write_record

FULL_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
_CHUNK = 50_000
_ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    """This process's peak resident set size so far, in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def write_samples(directory: Path, n: int, dim: int, mi: float, seed: int) -> tuple[Path, Path]:
    """Write ``n`` samples of a correlated Gaussian task to ``x.npy`` and ``y.npy`` (float32), chunk by chunk."""
    from miestim.gaussian import CorrelatedGaussianTask

    task = CorrelatedGaussianTask(dim, mi)
    paths = directory / "x.npy", directory / "y.npy"
    x_out = np.lib.format.open_memmap(paths[0], mode="w+", dtype=np.float32, shape=(n, dim))
    y_out = np.lib.format.open_memmap(paths[1], mode="w+", dtype=np.float32, shape=(n, dim))
    for i, start in enumerate(range(0, n, _CHUNK)):
        stop = min(n, start + _CHUNK)
        x_out[start:stop], y_out[start:stop] = task.sample(stop - start, seed=seed * 100_003 + i)
    x_out.flush(), y_out.flush()
    del x_out, y_out
    return paths


def worker(x_path: str, y_path: str, *, max_steps: int | None, seed: int, device: str, threads: int | None = None) -> dict[str, Any]:
    """Run ``estimate_mi`` on two memory-mapped files in this process; time and peak RSS."""
    if threads:
        torch.set_num_threads(threads)
    import_rss = peak_rss_mib()
    x = np.load(x_path, mmap_mode="r")
    y = np.load(y_path, mmap_mode="r")
    start = time.perf_counter()
    res = miestim.estimate_mi(x, y, max_steps=max_steps, seed=seed, device=device, progress=False)
    return {
        "seconds": time.perf_counter() - start,
        "peak_rss_mib": peak_rss_mib(),
        "import_rss_mib": import_rss,
        "value": res.value,
        "stderr": res.stderr,
        "torch": torch.__version__,
        "miestim": miestim.__version__,
        "threads": torch.get_num_threads(),
    }


# A bare interpreter that starts the worker: the worker's ru_maxrss then starts from this
# launcher's few MiB instead of the calling process's peak (see the module docstring).
_LAUNCH = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def _python(*args: str, launcher: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "benchmarks.large_data", *args]
    if launcher:
        command = [sys.executable, "-c", _LAUNCH, *command]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run(command, cwd=_ROOT, env=env, capture_output=True, text=True, check=False)


def _failure(done: subprocess.CompletedProcess) -> str:
    return (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]


def run_one(n: int, *, dim: int, mi: float, max_steps: int | None, seed: int, device: str, threads: int | None = None) -> dict[str, Any]:
    """Write the data for one N (in a subprocess), then measure ``estimate_mi`` on it in a fresh one."""
    row: dict[str, Any] = {"n": n, "dim": dim, "true_mi": mi, "max_steps": max_steps}
    with tempfile.TemporaryDirectory(prefix="miestim-large-") as tmp:
        done = _python("--write", tmp, "--sizes", str(n), "--dim", str(dim), "--mi", str(mi), "--seed", str(seed))
        if done.returncode == 0:
            x_path, y_path = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
            done = _python(
                "--worker",
                str(x_path),
                str(y_path),
                *(["--max-steps", str(max_steps)] if max_steps is not None else []),
                "--seed",
                str(seed),
                "--device",
                device,
                *(["--threads", str(threads)] if threads else []),
                launcher=True,
            )
    if done.returncode != 0:
        row["error"] = _failure(done)
        return row
    row.update(json.loads(done.stdout.strip().splitlines()[-1]))
    return row


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    head = ["N", "d", "seconds", "peak RSS (MiB)", "import RSS (MiB)", "estimate (nats)", "true MI (nats)"]
    lines = []
    for r in rows:
        if "error" in r:
            lines.append([f"{r['n']:,}", r["dim"], f"failed: {r['error']}", "", "", "", ""])
        else:
            measured = [f"{r['seconds']:.1f}", f"{r['peak_rss_mib']:.0f}", f"{r['import_rss_mib']:.0f}", f"{r['value']:.3f} ± {r['stderr']:.3f}"]
            lines.append([f"{r['n']:,}", r["dim"], *measured, f"{r['true_mi']:g}"])
    return markdown_table(head, lines, align="---:")


#: Issue 30's bar: the default estimate at N = 1,000,000 (16 + 16 columns) within this many seconds on 2 cores.
TARGET_SECONDS = {1_000_000: 60.0}


def targets(rows: Sequence[dict[str, Any]]) -> list[str]:
    """A verdict for each measured size that has a bar (:data:`TARGET_SECONDS`)."""
    return [
        f"{'PASS' if r['seconds'] <= TARGET_SECONDS[r['n']] else 'MISS'} N = {r['n']:,}: {r['seconds']:.1f} s (bar {TARGET_SECONDS[r['n']]:.0f} s, {r.get('threads')} threads)"
        for r in rows
        if r["n"] in TARGET_SECONDS and "error" not in r
    ]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.large_data", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 1e3 and 1e4 only")
    parser.add_argument("--sizes", type=int, nargs="+", help="sample sizes to run (default 1e4 1e5 1e6)")
    parser.add_argument("--dim", type=int, default=16, help="columns of X and of Y (default 16)")
    parser.add_argument("--mi", type=float, default=2.0, help="true MI of the Gaussian data, nats (default 2)")
    parser.add_argument("--max-steps", type=int, help="training steps per run (default: estimate_mi's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch threads in each run (default: torch's default)")
    parser.add_argument("--json", help="write the rows and run metadata to this file")
    parser.add_argument("--worker", nargs=2, metavar=("X_NPY", "Y_NPY"), help=argparse.SUPPRESS)
    parser.add_argument("--write", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write:
        write_samples(Path(args.write), args.sizes[0], args.dim, args.mi, args.seed)
        return 0
    if args.worker:
        print(json.dumps(worker(*args.worker, max_steps=args.max_steps, seed=args.seed, device=args.device, threads=args.threads)))
        return 0

    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    rows = [run_one(n, dim=args.dim, mi=args.mi, max_steps=args.max_steps, seed=args.seed, device=args.device, threads=args.threads) for n in sizes]
    done = next((r for r in rows if "error" not in r), {})
    default = inspect.signature(miestim.estimate_mi).parameters["estimator"].default
    estimator = {"function": "estimate_mi", "estimator": default, "options": {"max_steps": args.max_steps} if args.max_steps is not None else {}}
    # The worker's thread count is the one that ran, not this launcher's.
    meta = run_metadata(
        "large-data", argv, device=args.device, seed=args.seed, estimator=estimator, threads=done.get("threads"), max_steps=args.max_steps
    )
    print("estimate_mi on memory-mapped .npy · " + header(meta))
    print(table(rows))
    print("\n".join(f"- {line}" for line in targets(rows)))
    if args.json:
        write_record(args.json, meta, rows)
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
