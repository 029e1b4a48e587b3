"""What every benchmark shares: the run's metadata, the header, the markdown table, the JSON record and the baseline comparison.

A record is ``{"meta": run_metadata(...), "rows": [...], ...}``. Its meta names the estimator (method,
families, options), the package version and git commit, the machine (cores, threads, the load average
when it ran: the machine is often shared) and the command, so a stored number can be traced and a
table regenerated from it (``python -m benchmarks docs``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import torch

import miestim

Key = Callable[[dict[str, Any]], tuple]
_ROOT = Path(__file__).resolve().parents[1]


def add_run_arguments(parser: argparse.ArgumentParser, *, quick: str, tolerance: float) -> None:
    """The options every accuracy benchmark takes: seed, device, quick mode, JSON record and baseline."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--json", help="write the rows and run metadata to this file")
    parser.add_argument("--baseline", help="stored JSON to compare errors against")
    parser.add_argument("--tolerance", type=float, default=tolerance, help=f"allowed growth of |error| vs baseline, nats (default {tolerance})")


def git_commit() -> str:
    """The checkout's commit, with ``+dirty`` when tracked code differs from it ("unknown" outside a git checkout).

    Only the code counts (the package, the benchmarks, the example): a stored record changed by an earlier run does not.
    """
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=_ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "miestim", "benchmarks", "examples"],
            cwd=_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty" if dirty.stdout.strip() else "")


def load_note() -> str:
    """The 1-, 5- and 15-minute load averages: above the core count, other work shared the machine and times are inflated."""
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average unknown"


def run_metadata(command: str, argv: list[str], *, device: str, seed: int, estimator: dict[str, Any] | str, **fields: Any) -> dict[str, Any]:
    """The facts a stored run needs to be traced and compared fairly: what ran, on what, when, with which command.

    Args:
        command: the benchmark's name under ``python -m benchmarks``.
        argv: its arguments.
        device: where it ran.
        seed: the first seed.
        estimator: what was measured: the function and its method, families and options (or one line saying so).
        fields: more facts of this benchmark (sizes, seeds, ...).
    """
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "miestim": miestim.__version__,
        "commit": git_commit(),
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {load_note()} at the start",
        "threads": torch.get_num_threads(),
        "device": device,
        "seed": seed,
        "estimator": estimator,
        **fields,
        "command": f"python -m benchmarks {command} " + " ".join(argv),
    }


def header(meta: dict[str, Any]) -> str:
    extra = " · ".join(
        f"{k}={v}" for k, v in meta.items() if k not in {"date", "miestim", "commit", "torch", "machine", "threads", "device", "seed", "command"}
    )
    return (
        f"miestim {meta['miestim']} ({meta.get('commit', 'commit not recorded')}) · torch {meta['torch']} · {meta['machine']} · {meta['threads']} threads · "
        f"device {meta['device']} · seed {meta['seed']}" + (f" · {extra}" if extra else "") + f" · {meta['date']}\n"
    )


def markdown_table(head: Sequence[str], lines: Iterable[Sequence[str]], *, align: str = "---") -> str:
    """A markdown table: the header cells, then one line of cells per row.

    A ``|`` inside a cell (a task named ``x;y|z``) is escaped, since it would end the cell.
    ``align`` is the separator cell of every column (``"---:"`` to right-align numbers).
    """

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(head), "|" + f"{align}|" * len(head), *(line(cells) for cells in lines)])


def write_record(path: str | Path, meta: dict[str, Any], rows: Sequence[Any] | None = None, **extra: Any) -> None:
    """Write ``{"meta": meta, "rows": rows, **extra}`` as the JSON record of a run (dataclass rows become dicts).

    A benchmark without rows (one measurement, e.g. the sampler's) passes its fields as ``extra``.
    """
    listed = {} if rows is None else {"rows": [asdict(r) if is_dataclass(r) and not isinstance(r, type) else r for r in rows]}
    record = {"meta": meta, **listed, **extra}
    Path(path).write_text(json.dumps(record, indent=1, default=float), encoding="utf-8")


def compare_errors(rows: list[dict[str, Any]], baseline_path: str, tolerance: float, *, key: Key) -> list[str]:
    """Rows whose |error| grew by more than ``tolerance`` over the stored run with the same ``key``."""
    with open(baseline_path) as fh:
        stored = {key(r): r for r in json.load(fh)["rows"]}
    regressions = []
    for r in rows:
        old = stored.get(key(r))
        if old is not None and abs(r["error"]) > abs(old["error"]) + tolerance:
            regressions.append(f"{key(r)}: |error| {abs(r['error']):.3f} vs stored {abs(old['error']):.3f}")
    return regressions


def finish(
    rows: list[Any],
    table: str,
    targets: list[str],
    meta: dict[str, Any],
    *,
    json_path: str | None,
    baseline_path: str | None,
    tolerance: float,
    key: Key,
) -> int:
    """Print the header, table and target lines, write the JSON record, compare with a baseline.

    Returns the exit status: 1 when the baseline comparison finds a regression, else 0.
    """
    print(header(meta))
    print(table)
    if targets:
        print("\n" + "\n".join(targets))
    records = [asdict(r) for r in rows]
    if json_path:
        write_record(json_path, meta, records, targets=targets)
    if baseline_path:
        regressions = compare_errors(records, baseline_path, tolerance, key=key)
        print("\nregressions vs baseline:\n" + ("\n".join(regressions) if regressions else "none"))
        return 1 if regressions else 0
    return 0
