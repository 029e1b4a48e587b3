"""Who estimates what: miestim, scikit-learn and the plug-in in this process; torch-mist, bmi, frites and latentmi through their workers.

A :class:`Plan` maps each library to its jobs (one task drawn at one ``n`` with one seed, stored
once in an ``.npz`` file) and the estimators to run on each. Every estimate becomes a
:class:`~miestim.validation.ValidationRow`, the row of ``miestim.validate``: the estimate, its
error against the truth, the wall seconds of the estimate alone (no interpreter start or import),
its status and message; its ``labels`` say which library and estimator, the task's family, and
what the library evaluated it on. A library whose environment is missing is skipped with a message.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import miestim
from miestim.validation import ValidationRow

from . import baselines, envs
from .tasks import Task

#: each library's default (what a user calling it without options gets).
DEFAULTS = {
    "miestim": "auto",
    "torch-mist": "smile",
    "bmi": "ksg",
    "sklearn": "ksg",
    "plug-in": "gaussian-copula",
    "frites": "gcmi",
    "latentmi": "lmi",
}
TORCH_MIST = ("smile", "mine", "nwj", "infonce")
BMI_NEURAL = ("infonce", "nwj", "dv", "mine")
BMI_CHEAP = ("ksg", "cca")
#: frites' bias-corrected Gaussian-copula MI; latentmi's latent MI (epochs capped in its worker).
FRITES = ("gcmi",)
LATENTMI = ("lmi",)
#: latentmi's seconds per training epoch and fixed cost at n = 5,000 on one CPU thread (measured), and its worker's epoch cap; only for the ETA.
LATENTMI_EPOCH_S, LATENTMI_FIXED_S, LATENTMI_EPOCHS = 1.3, 1.3, 15


def to_record(row: ValidationRow) -> dict[str, Any]:
    """A row as stored in the JSON record (NaN becomes None, so the record is strict JSON)."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in asdict(row).items()}


def from_record(stored: dict[str, Any]) -> ValidationRow:
    """A stored row back as a :class:`~miestim.validation.ValidationRow` (None becomes NaN)."""
    return ValidationRow(**{k: math.nan if v is None and k in _NUMBERS else v for k, v in stored.items()})


_NUMBERS = ("estimate", "stderr", "error", "seconds")


@dataclass(frozen=True)
class Job:
    task: Task
    n: int
    seed: int
    samples: Path

    @property
    def id(self) -> str:
        return f"{self.task.key}|n={self.n}|seed={self.seed}"

    def row(
        self,
        library: str,
        estimator: str,
        *,
        estimate: float | None = None,
        seconds: float | None = None,
        stderr: float | None = None,
        error_message: str | None = None,
        **labels: Any,
    ) -> ValidationRow:
        """``library``'s ``estimator`` on this job: a failure when ``error_message`` is given or the estimate is missing or not finite.

        ``labels`` are what the library evaluated the estimate on (``evaluated_on``) and what else it
        reported (``steps``; ``estimate_train``, its reading on the rows it trained on).
        """
        t = self.task
        ok = error_message is None and estimate is not None and math.isfinite(estimate)
        status = "ok" if ok else "non-finite" if estimate is not None and error_message is None else "error"
        return ValidationRow(
            task=t.key,
            quantity="I(X;Y|Z)" if t.kind == "cmi" else "I(X;Y)",
            seed=self.seed,
            n=self.n,
            truth=t.truth,
            estimate=float(estimate) if estimate is not None else math.nan,
            stderr=math.nan if stderr is None else float(stderr),
            error=float(estimate) - t.truth if ok else math.nan,
            seconds=math.nan if seconds is None else float(seconds),
            status=status,
            message=error_message or ("" if ok or estimate is not None else "no estimate returned"),
            estimator=f"{library} {estimator}",
            labels={"library": library, "estimator": estimator, "kind": t.kind, "dim": t.dim, "transform": t.transform, "copula": t.copula, **labels},
        )


@dataclass
class Plan:
    """``work[library]``: list of (job, estimators) in run order."""

    work: dict[str, list[tuple[Job, list[str]]]] = field(default_factory=dict)

    def add(self, library: str, job: Job, estimators: list[str]) -> None:
        entries = self.work.setdefault(library, [])
        for known, names in entries:
            if known.id == job.id:
                names.extend(e for e in estimators if e not in names)
                return
        entries.append((job, list(estimators)))

    def count(self) -> int:
        return sum(len(names) for entries in self.work.values() for _, names in entries)


# ------------------------------------------------------------------ expected cost, for the ETA
def expected_seconds(library: str, estimator: str, job: Job) -> float:
    """Rough seconds of one estimate on a quiet 2-core CPU (calibrated on this machine); only for the ETA."""
    small = job.n <= 2_000
    d = job.task.dim
    if library == "miestim":
        base = 15.0 if job.task.kind == "cmi" else 30.0 if estimator == "interpolated" else 6.0
        return base * (0.5 if small else 1.0)
    if library == "torch-mist":
        return 15.0
    if library == "sklearn":
        return 0.3 * job.n / 1_000
    if library in ("plug-in", "frites"):
        return 0.05 if library == "plug-in" else 0.1
    if library == "latentmi":
        return (LATENTMI_FIXED_S + LATENTMI_EPOCH_S * LATENTMI_EPOCHS) * job.n / 5_000
    if estimator == "cca":
        return 0.5
    if estimator == "ksg":
        cost = (3.0 + 0.4 * d) * (job.n / 10_000) ** 2
        return 2 * cost * 1.5 if job.task.kind == "cmi" else cost
    return {"infonce": 30.0, "nwj": 25.0, "dv": 15.0, "mine": 12.0}.get(estimator, 20.0)


class Progress:
    """Prints each finished estimate with an ETA rescaled by how the run so far compares with the model."""

    def __init__(self, plan: Plan, quiet: bool = False) -> None:
        self.expected_total = sum(expected_seconds(lib, e, job) for lib, entries in plan.work.items() for job, names in entries for e in names)
        self.expected_done = 0.0
        self.start = time.perf_counter()
        self.total, self.done = plan.count(), 0
        self.quiet = quiet

    def eta(self) -> float:
        elapsed = time.perf_counter() - self.start
        ratio = elapsed / self.expected_done if self.expected_done > 0 else 1.0
        return max(0.0, (self.expected_total - self.expected_done) * ratio)

    def tick(self, row: ValidationRow, expected: float) -> None:
        self.done += 1
        self.expected_done += expected
        if self.quiet:
            return
        what = f"est={row.estimate:8.3f} err={row.error:+7.3f}" if row.status == "ok" else f"FAILED ({row.status}): {row.message or row.estimate}"
        secs = f"{row.seconds:6.1f}s" if math.isfinite(row.seconds) else ""
        library, estimator = row.labels["library"], row.labels["estimator"]
        print(
            f"  [{self.done}/{self.total}] {library:>10} {estimator:<12} {row.task:<22} n={row.n:<6} seed={row.seed} "
            f"{what} {secs}  ETA {self.eta() / 60:5.1f} min",
            file=sys.stderr,
            flush=True,
        )


# ------------------------------------------------------------------ in-process libraries
def _load(job: Job) -> dict[str, np.ndarray]:
    with np.load(job.samples) as data:
        return {k: data[k] for k in data.files}


def run_miestim(job: Job, estimator: str, *, max_steps: int | None, device: str) -> ValidationRow:
    a = _load(job)
    if job.task.kind == "cmi":
        res = miestim.estimate_cmi(a["x"], a["y"], a["z"], method=estimator, seed=job.seed, max_steps=max_steps, device=device, progress=False)
    else:
        res = miestim.estimate_mi(a["x"], a["y"], estimator=estimator, seed=job.seed, max_steps=max_steps, device=device, progress=False)
    split = f"held-out test split ({res.n_test} rows); trained on {res.n_train}, stopped on {res.n_validation}"
    return job.row(
        "miestim",
        estimator,
        estimate=res.value,
        seconds=res.seconds,
        stderr=res.stderr,
        steps=res.history.steps[-1] if len(res.history) else None,
        evaluated_on=res.evaluated_on if res.method == "auto" else split,
    )


def run_sklearn(job: Job, estimator: str, **_: Any) -> ValidationRow:
    from sklearn.feature_selection import mutual_info_regression

    a = _load(job)
    start = time.perf_counter()
    value = float(mutual_info_regression(a["x"], a["y"][:, 0], n_neighbors=3, random_state=job.seed)[0])
    return job.row("sklearn", estimator, estimate=value, seconds=time.perf_counter() - start, evaluated_on="all rows (k=3)")


def run_plugin(job: Job, estimator: str, **_: Any) -> ValidationRow:
    a = _load(job)
    start = time.perf_counter()
    value = baselines.gaussian_copula_mi(a["x"], a["y"], a.get("z"))
    return job.row("plug-in", estimator, estimate=value, seconds=time.perf_counter() - start, evaluated_on="all rows (normal scores)")


IN_PROCESS: dict[str, Callable[..., ValidationRow]] = {"miestim": run_miestim, "sklearn": run_sklearn, "plug-in": run_plugin}


def run_in_process(library: str, entries: list[tuple[Job, list[str]]], progress: Progress, **options: Any) -> list[ValidationRow]:
    rows = []
    for job, names in entries:
        for name in names:
            try:
                row = IN_PROCESS[library](job, name, **options)
            except Exception as exc:  # noqa: BLE001 - recorded and reported; the library itself raises
                row = job.row(library, name, error_message=f"{type(exc).__name__}: {exc}")
            rows.append(row)
            progress.tick(row, expected_seconds(library, name, job))
    return rows


# ------------------------------------------------------------------ external libraries
def run_external(
    library: str,
    entries: list[tuple[Job, list[str]]],
    progress: Progress,
    *,
    max_steps: int | None,
    threads: int,
    test_fraction: float = 0.2,
    timeout: float = 4 * 3600,
) -> list[ValidationRow]:
    """Run ``library``'s worker once for all its jobs; rows for whatever it finished."""
    spec = envs.LIBRARIES[library]
    by_id = {job.id: job for job, _ in entries}
    request = {
        "threads": threads,
        "max_steps": max_steps,
        "test_fraction": test_fraction,
        "jobs": [{"id": job.id, "samples": str(job.samples), "kind": job.task.kind, "seed": job.seed, "estimators": names} for job, names in entries],
    }
    rows: list[ValidationRow] = []
    with tempfile.TemporaryDirectory(prefix=f"compare-{library}-") as tmp:
        req, res = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req.write_text(json.dumps(request))
        cmd = [str(envs.python_of(library)), str(envs.WORKERS / spec.worker), str(req), str(res)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1)
        log_tail: list[str] = []
        deadline = time.monotonic() + timeout
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("@@done "):
                entry = json.loads(line[len("@@done ") :])
                row = _external_row(library, by_id[entry["id"]], entry)
                rows.append(row)
                progress.tick(row, expected_seconds(library, entry["estimator"], by_id[entry["id"]]))
            else:
                log_tail = (log_tail + [line.rstrip()])[-20:]
            if time.monotonic() > deadline:
                proc.kill()
                break
        code = proc.wait()
        if code != 0:
            print(f"  {library} worker exited with status {code}; last output:\n    " + "\n    ".join(log_tail), file=sys.stderr)
    return rows


def _external_row(library: str, job: Job, entry: dict[str, Any]) -> ValidationRow:
    fields = {k: entry.get(k) for k in ("estimate", "seconds", "steps", "evaluated_on", "estimate_train")}
    if entry.get("error"):
        return job.row(library, entry["estimator"], error_message=entry["error"], evaluated_on=fields["evaluated_on"] or "")
    return job.row(library, entry["estimator"], **fields)


def execute(
    plan: Plan, *, max_steps: int | None, device: str, threads: int, progress: Progress | None = None
) -> tuple[list[ValidationRow], dict[str, str]]:
    """Run the plan library by library (never two at once, so timings are comparable); rows and skipped libraries."""
    progress = progress or Progress(plan)
    external = {name: why for name, why in envs.available().items() if name in plan.work}
    skipped = {name: why for name, why in external.items() if why is not None}
    rows: list[ValidationRow] = []
    for library, entries in plan.work.items():
        if library in skipped:
            print(f"  skipping {library}: {skipped[library]}", file=sys.stderr, flush=True)
            progress.expected_total -= sum(expected_seconds(library, e, job) for job, names in entries for e in names)
            continue
        print(f"-- {library}: {sum(len(n) for _, n in entries)} estimates", file=sys.stderr, flush=True)
        if library in IN_PROCESS:
            rows += run_in_process(library, entries, progress, max_steps=max_steps, device=device)
        else:
            rows += run_external(library, entries, progress, max_steps=max_steps, threads=threads)
    return rows, skipped
