"""How many torch threads a command line should use: the example's epoch and one-call estimates at 1, 2 and all threads.

Each thread count runs in a fresh process (``torch.set_num_threads`` at its start, as the
command lines do), once on the machine as it is ("idle") and once beside one ordinary busy
process that this benchmark starts and stops itself ("loaded"). The workloads:

- ``example epoch``: one epoch of ``python -m examples.sentiment train`` with its defaults
  (synthetic data, batch 64) on 640 training rows (the demo's 1284 halved, to keep the loaded
  two-thread run short; the text states are cached before any timed run);
- ``estimate_mi default``: ``estimate_mi(x, y)`` on a correlated Gaussian, d = 20, MI = 4 nats, N = 10,000;
- ``estimate_mi smile``: ``estimate_mi(x, y, estimator="smile")`` (one trained critic), d = 5, MI = 2, N = 10,000.

Then ``make demo`` after setup, timed from the start of ``make`` to its end, idle and loaded
(the demo writes to a fresh temporary folder each time, so the text cache starts empty as for
a new user). The record holds the load average before and after each condition, since on a
shared machine "idle" means "without the benchmark's own busy process".

Usage::

    python -m benchmarks threads --json docs/benchmarks/threads.json > docs/benchmarks/threads.md   # the record (~15 min on 2 cores)
    python -m benchmarks threads --quick --no-demo      # tiny workloads, every thread count, no demo: the pipeline (< 2 min)
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._report import markdown_table, run_metadata, write_record

WORKLOADS = ("example epoch", "estimate_mi default", "estimate_mi smile")
CONDITIONS = ("idle", "loaded")
#: The acceptance of the demo: at most 3 minutes on the idle machine, 4 beside one busy process.
DEMO_TARGETS = {"idle": 180.0, "loaded": 240.0}
#: Training rows of the timed example epoch (validation and test splits as the demo's).
EPOCH_ROWS = (640, 229, 686)


def _load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


@contextmanager
def _condition(name: str) -> Iterator[None]:
    """``loaded``: one ordinary busy process (a Python spin loop) runs beside the body, stopped afterwards."""
    if name == "idle":
        yield
        return
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)  # let the scheduler see it before timing starts
        yield
    finally:
        busy.terminate()
        busy.wait()


def _worker(threads: int, quick: bool, cache: str, workloads: tuple[str, ...]) -> None:
    """Time ``workloads`` in this process on ``threads`` threads; print one JSON line per workload."""
    import torch

    torch.set_num_threads(threads)
    for name in workloads:
        start = time.perf_counter()
        seconds = _run_workload(name, quick, cache)
        print(json.dumps({"workload": name, "seconds": seconds if seconds is not None else time.perf_counter() - start}), flush=True)


def _run_workload(name: str, quick: bool, cache: str) -> float | None:
    """Run one workload; returns its own timer's seconds (the epoch's), or None to use the wall time of the call."""
    import miestim
    from miestim.gaussian import CorrelatedGaussianTask

    if name == "example epoch":
        from examples.sentiment.config import preset_config
        from examples.sentiment.train import Trainer

        options: dict[str, Any] = {"epochs": 1, "progress": False, "cache_dir": cache, "out": tempfile.mkdtemp(prefix="epoch-", dir=cache)}
        if not quick:
            options["synthetic_size"] = EPOCH_ROWS
        trainer = Trainer(preset_config("smoke" if quick else "synthetic", **options))
        return float(trainer.run_epoch()["seconds_epoch"])
    d, mi, estimator = (20, 4.0, "auto") if name == "estimate_mi default" else (5, 2.0, "smile")
    x, y = CorrelatedGaussianTask(d, mi).sample(400 if quick else 10_000, seed=0)
    options = {"max_steps": 20} if quick and estimator != "auto" else {}
    miestim.estimate_mi(x, y, estimator=estimator, seed=0, progress=False, **options)
    return None


def _measure(threads: int, quick: bool, cache: str, timeout: float, workloads: tuple[str, ...] = WORKLOADS) -> dict[str, float | None]:
    """Workload -> seconds in a fresh process on ``threads`` threads (None: not finished within ``timeout``)."""
    command = [sys.executable, "-m", "benchmarks", "threads", "--worker", str(threads), "--cache", cache] + ["--quick"] * quick
    command += [f"--workload={name}" for name in workloads]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True, env=env).stdout
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
    except subprocess.CalledProcessError as err:
        raise RuntimeError(f"the worker on {threads} threads failed:\n{err.stderr[-3000:]}") from err
    done = {row["workload"]: row["seconds"] for row in map(json.loads, out.splitlines())}
    return {name: done.get(name) for name in workloads}


def _time_demo(command: str, timeout: float) -> float | None:
    """Wall seconds of ``command`` (``make demo``) writing to a fresh folder, as a new user runs it; None past ``timeout``."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MIESTIM_NUM_THREADS")}  # the demo's own defaults
    with tempfile.TemporaryDirectory(prefix="demo-") as out:
        start = time.perf_counter()
        try:
            subprocess.run(shlex.split(command) + [f"DEMO_OUT={out}"], capture_output=True, timeout=timeout, check=True, env=env)
        except subprocess.TimeoutExpired:
            return None
        except subprocess.CalledProcessError as err:
            raise RuntimeError(f"{command!r} failed:\n{err.stderr.decode()[-3000:]}") from err
        return time.perf_counter() - start


def run(threads: list[int], *, quick: bool, demo: str | None, timeout: float) -> dict[str, Any]:
    """Every condition's timings and load averages: ``{"rows": [...], "demo": [...], "load": {...}}``."""
    rows, demo_rows, load = [], [], {}
    with tempfile.TemporaryDirectory(prefix="threads-cache-") as cache:
        _measure(1, quick, cache, timeout, WORKLOADS[:1])  # not recorded: fills the text cache the epochs share
        for condition in CONDITIONS:
            before = _load()
            with _condition(condition):
                for n in threads:
                    for workload, seconds in _measure(n, quick, cache, timeout).items():
                        rows.append({"workload": workload, "condition": condition, "threads": n, "seconds": seconds})
                if demo:
                    demo_rows.append({"condition": condition, "seconds": _time_demo(demo, timeout), "target": DEMO_TARGETS[condition]})
            load[condition] = {"before": before, "after": _load()}
    return {"rows": rows, "demo": demo_rows, "load": load}


def _seconds(value: float | None, timeout: float) -> str:
    return f"{value:.1f}" if value is not None else f"> {timeout:.0f} (stopped)"


def table(result: dict[str, Any], threads: list[int], timeout: float, cores: int | None) -> str:
    """Workload × threads, idle and loaded, with each count's time over one thread's in the same condition.

    ``cores`` is the measuring machine's count (from the record, not this machine: the docs are regenerated elsewhere).
    """
    seconds = {(r["workload"], r["condition"], r["threads"]): r["seconds"] for r in result["rows"]}
    lines = []
    for workload in WORKLOADS:
        for n in threads:
            cells = [_seconds(seconds[(workload, c, n)], timeout) for c in CONDITIONS]
            ratios = []
            for c in CONDITIONS:
                one, this = seconds[(workload, c, 1)], seconds[(workload, c, n)]
                ratios.append(f"{this / one:.2f}" if one and this else "—")
            label = f"{n} (all)" if n == cores else str(n)
            lines.append([workload, label, *cells, *ratios])
    text = markdown_table(["workload", "threads", "idle s", "loaded s", "idle ÷ 1 thread", "loaded ÷ 1 thread"], lines)
    if result["demo"]:
        demo = []
        for r in result["demo"]:
            verdict = "PASS" if r["seconds"] is not None and r["seconds"] <= r["target"] else "MISS"
            demo.append([r["condition"], _seconds(r["seconds"], timeout), f"≤ {r['target']:.0f}", verdict])
        text += "\n\n" + markdown_table(["`make demo` after setup", "seconds", "target", "verdict"], demo)
    loads = "; ".join(f"{c}: {v['before']} before, {v['after']} after" for c, v in result["load"].items())
    return text + f"\n\nload average (1, 5, 15 min) {loads}\n"


def fastest(result: dict[str, Any]) -> list[str]:
    """One line per workload and condition: the fastest thread count, and one thread's time over the fastest's."""
    best: dict[tuple[str, str], tuple[float, int]] = {}
    one: dict[tuple[str, str], float | None] = {}
    for r in result["rows"]:
        key = (r["workload"], r["condition"])
        if r["threads"] == 1:
            one[key] = r["seconds"]
        if r["seconds"] is not None and (key not in best or r["seconds"] < best[key][0]):
            best[key] = (r["seconds"], r["threads"])
    lines = []
    for (workload, condition), (seconds, n) in best.items():
        ratio = f"{one[workload, condition] / seconds:.2f}" if one.get((workload, condition)) else "— (stopped)"
        lines.append(f"fastest, {workload}, {condition}: {n} thread{'s' * (n > 1)} ({seconds:.1f} s); one thread takes {ratio} × that")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks threads", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", help="thread counts (default: 1, 2 and all cores)")
    parser.add_argument("--demo-command", default="make demo", help="timed idle and loaded, after the workloads (default: make demo)")
    parser.add_argument("--no-demo", action="store_true", help="do not time the demo")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds one process (one thread count's workloads, or the demo) may take (default 600)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny workloads: checks the pipeline only (with --no-demo: < 2 min)")
    parser.add_argument("--json", help="write the rows and run metadata to this file")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # internal: time the workloads on this many threads
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--workload", action="append", choices=WORKLOADS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.quick, args.cache, tuple(args.workload or WORKLOADS))
        return 0
    threads = sorted(set(args.threads or [1, 2, os.cpu_count() or 1]))
    if threads[0] < 1:
        parser.error(f"--threads must be positive counts; got {threads}.")
    if threads[0] != 1:
        parser.error("--threads must include 1: every count is compared with one thread.")
    argv = list(sys.argv[1:] if argv is None else argv)
    estimator = "the example's epoch and estimate_mi's default, each thread count in a fresh process"
    # Taken before the run, so the machine's load average is the one the run started on.
    meta = run_metadata("threads", argv, device="cpu", seed=0, estimator=estimator, cores=os.cpu_count(), quick=args.quick, timeout_s=args.timeout)
    started = time.perf_counter()
    result = run(threads, quick=args.quick, demo=None if args.no_demo else args.demo_command, timeout=args.timeout)
    meta.update(load=result.pop("load"), minutes=round((time.perf_counter() - started) / 60, 1))
    text = table({**result, "load": meta["load"]}, threads, args.timeout, meta["cores"])
    print(f"`{meta['command']}` · torch {meta['torch']} · {meta['cores']} cores · {meta['minutes']} min · {meta['date']}\n\n{text}")
    print("\n".join(fastest(result)))
    if args.json:
        write_record(args.json, meta, **result)
    return 0
