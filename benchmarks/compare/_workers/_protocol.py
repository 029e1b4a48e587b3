"""What every worker shares: read the request, run each estimator, write results as they come.

A worker runs inside another library's virtual environment, so it imports nothing from
miestim or the benchmarks package, only the standard library, numpy and that library.

Request (JSON): ``{"threads": int, "max_steps": int | null, "test_fraction": float,
"jobs": [{"id": str, "samples": path.npz, "kind": "mi" | "cmi", "seed": int,
"estimators": [name, ...]}]}``. Result (JSON, rewritten after every estimate):
``{"library", "versions", "results": [{"id", "estimator", "estimate", "estimate_train",
"seconds", "steps", "evaluated_on", "error"}]}``. Each finished estimate is also announced
on stderr as one line ``@@done {json}`` so the parent can track progress.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

Runner = Callable[[str, dict, dict], dict]


def requested_threads(argv: list[str]) -> int:
    """The request's thread count (``argv[0]`` is the request file), with the libraries' thread variables set to it: call it before importing them."""
    with open(argv[0]) as fh:
        threads = int(json.load(fh).get("threads", 2))
    limit_threads(threads)
    return threads


def limit_threads(threads: int) -> None:
    """Same thread count as the parent, set before the numerical libraries are imported."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if threads == 1:  # XLA's CPU backend has no thread-count flag beyond "one"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()


def serve(library: str, versions: Callable[[], dict], run: Runner, argv: list[str]) -> int:
    """Run every (job, estimator) of the request with ``run(estimator, arrays, job)`` and record the results."""
    request_path, result_path = argv
    with open(request_path) as fh:
        request = json.load(fh)
    record: dict[str, Any] = {"library": library, "versions": versions(), "results": []}
    for job in request["jobs"]:
        with np.load(job["samples"]) as data:
            arrays = {key: np.ascontiguousarray(data[key], dtype=np.float32) for key in data.files}
        for estimator in job["estimators"]:
            entry = {
                "id": job["id"],
                "estimator": estimator,
                "estimate": None,
                "estimate_train": None,
                "seconds": None,
                "steps": None,
                "evaluated_on": "",
                "error": None,
            }
            try:
                entry.update(run(estimator, arrays, dict(job, max_steps=request.get("max_steps"), test_fraction=request.get("test_fraction", 0.2))))
            except Exception as exc:  # noqa: BLE001 - recorded, not raised: one failing estimator must not lose the others
                entry["error"] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc(file=sys.stderr)
            record["results"].append(entry)
            tmp = result_path + ".tmp"
            with open(tmp, "w") as fh:
                json.dump(record, fh, indent=1)
            os.replace(tmp, result_path)
            print("@@done " + json.dumps(entry), file=sys.stderr, flush=True)
    return 0


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start
