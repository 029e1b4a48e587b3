"""What the accuracy benchmarks share: the run header, the JSON record and the baseline comparison."""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch

import miestim

Key = Callable[[dict[str, Any]], tuple]


def add_run_arguments(parser: argparse.ArgumentParser, *, quick: str, tolerance: float) -> None:
    """The options every accuracy benchmark takes: seed, device, quick mode, JSON record and baseline."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--json", help="write the rows and run metadata to this file")
    parser.add_argument("--baseline", help="stored JSON to compare errors against")
    parser.add_argument("--tolerance", type=float, default=tolerance, help=f"allowed growth of |error| vs baseline, nats (default {tolerance})")


def run_metadata(command: str, argv: list[str], *, device: str, seed: int, **fields: Any) -> dict[str, Any]:
    """The facts a stored run needs to be compared fairly: when, which torch, how many threads, which command."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "miestim": miestim.__version__,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "device": device,
        "seed": seed,
        **fields,
        "command": f"python -m benchmarks {command} " + " ".join(argv),
    }


def header(meta: dict[str, Any]) -> str:
    extra = " · ".join(
        f"{k}={v}" for k, v in meta.items() if k not in {"date", "miestim", "torch", "machine", "threads", "device", "seed", "command"}
    )
    return (
        f"miestim {meta['miestim']} · torch {meta['torch']} · {meta['machine']} {meta['threads']} threads · "
        f"device {meta['device']} · seed {meta['seed']}" + (f" · {extra}" if extra else "") + f" · {meta['date']}\n"
    )


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
        with open(json_path, "w") as fh:
            json.dump({"meta": meta, "rows": records, "targets": targets}, fh, indent=1)
    if baseline_path:
        regressions = compare_errors(records, baseline_path, tolerance, key=key)
        print("\nregressions vs baseline:\n" + ("\n".join(regressions) if regressions else "none"))
        return 1 if regressions else 0
    return 0
