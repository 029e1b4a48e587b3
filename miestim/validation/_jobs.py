"""One validation job: sample a task at (n, seed), run the estimator on it, turn its answer into rows.

A job is self-contained and picklable, so joblib can send it to any worker (loky, Dask, Ray). With
a timeout the estimator runs in a fresh Python process that the job kills when time is up.
"""

from __future__ import annotations

import copy
import math
import numbers
import os
import pickle
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .report import ValidationRow

#: The task kinds and the attribute holding each kind's truth (``sample`` returns (x, y), (x, y, z), (modalities, target)).
KINDS = {"mi": "mutual_information", "cmi": "conditional_mutual_information", "decomposition": "decomposition"}
QUANTITIES = {"mi": "I(X;Y)", "cmi": "I(X;Y|Z)"}
_MESSAGE_CHARS = 500

# Run in the child: take the parent's sys.path (so the same modules import), import and sample, say "ready" on
# the original stdout (then point stdout at stderr, so the estimator's prints cannot garble it), run the job,
# pickle its rows to argv[1] and say "done". The parent's clock runs from "ready" to "done": the estimator's time.
_CHILD = (
    "import os, pickle, sys\n"
    "sys.path[:0] = pickle.load(sys.stdin.buffer)\n"
    "from miestim.validation._jobs import prepare, run_prepared\n"
    "job, data = prepare(pickle.load(sys.stdin.buffer))\n"
    "channel = os.fdopen(os.dup(1), 'wb', buffering=0)\n"
    "os.dup2(2, 1)\n"
    "channel.write(b'R')\n"
    "rows = run_prepared(job, data)\n"
    "with open(sys.argv[1], 'wb') as fh:\n"
    "    pickle.dump(rows, fh)\n"
    "channel.write(b'D')\n"
)
#: Seconds a worker process may take to start (import torch, unpickle the job, sample) before the timeout's clock starts.
STARTUP_SECONDS = 300.0


def task_kind(task: Any) -> str | None:
    """``"mi"``, ``"cmi"`` or ``"decomposition"`` by the truth attribute ``task`` carries; None if it has none."""
    return next((kind for kind, attr in KINDS.items() if hasattr(task, attr)), None)


def task_truth(task: Any, kind: str) -> dict[str, float]:
    """``{quantity: true value}`` of a task (an attribute, or a method as in bmi's tasks)."""
    value = getattr(task, KINDS[kind])
    value = value() if callable(value) else value
    if kind == "decomposition":
        return {name: float(v) for name, v in (value.terms() if hasattr(value, "terms") else value.items())}
    return {QUANTITIES[kind]: float(value)}


def task_name(task: Any) -> str:
    return str(getattr(task, "name", type(task).__name__))


@dataclass(frozen=True)
class Job:
    """Everything one (task, seed) needs: the task, the estimator (a name, an MIEstimator or a callable) and the fit options."""

    task: Any
    kind: str
    n: int
    seed: int
    estimator: Any
    options: dict[str, Any]


def _library_call(job: Job, data: tuple[Any, ...]) -> Any:
    """The library's own estimator for the job's kind, seeded with the job's seed."""
    import miestim  # at call time: this module is imported while miestim itself initialises

    name, options = job.estimator, {"seed": job.seed, "progress": False, **job.options}
    if job.kind == "mi":
        if isinstance(job.estimator, miestim.MIEstimator):
            x, y = data
            if (x.shape[1], y.shape[1]) != (job.estimator.x_dim, job.estimator.y_dim):
                raise ValueError(
                    f"the estimator module was built for x_dim={job.estimator.x_dim}, y_dim={job.estimator.y_dim}; this task has "
                    f"{x.shape[1]} and {y.shape[1]} columns. Pass a callable that builds one per task instead."
                )
            return miestim.estimate_mi(x, y, estimator=copy.deepcopy(job.estimator), **options)
        return miestim.estimate_mi(data[0], data[1], **({} if name == "default" else {"estimator": name}), **options)
    if job.kind == "cmi":
        return miestim.estimate_cmi(*data, **options)
    return miestim.decompose(data[0], data[1], **({} if name == "default" else {"mi_estimator": name}), **options)


def _as_estimate(value: Any) -> tuple[float, float]:
    """``(value, stderr)`` from a number or an object with ``.value`` (and ``.stderr``), e.g. an EstimateResult."""
    stderr = math.nan
    if hasattr(value, "value"):
        stderr = float(getattr(value, "stderr", math.nan))
        value = value.value
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"the estimator returned {type(value).__name__}; expected a real number or an object with .value (e.g. EstimateResult).")
    return float(value), stderr


def _as_estimates(kind: str, result: Any) -> dict[str, tuple[float, float]]:
    """``{quantity: (value, stderr)}`` from an estimator's answer."""
    if kind != "decomposition":
        return {QUANTITIES[kind]: _as_estimate(result)}
    if hasattr(result, "terms"):  # a miestim.Decomposition: (name, value, stderr) triples
        return {name: (float(v), float(se)) for name, v, se in result.terms()}
    if isinstance(result, Mapping):
        return {name: _as_estimate(v) for name, v in result.items()}
    raise TypeError(f"the estimator returned {type(result).__name__}; expected a miestim.Decomposition or a mapping term -> value.")


def _message(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip()
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def failed_rows(job: Job, truth: dict[str, float], status: str, message: str, seconds: float) -> list[ValidationRow]:
    """One row per quantity of the job, all with the same failure."""
    name = task_name(job.task)
    return [ValidationRow(name, q, job.seed, job.n, t, math.nan, math.nan, math.nan, seconds, status, message) for q, t in truth.items()]


def prepare(job: Job) -> tuple[Job, tuple[Any, ...]]:
    """The job and its sample: ``task.sample(n, seed)``, a tuple of the estimator's arguments."""
    data = job.task.sample(job.n, job.seed)
    return job, tuple(data)


def run_here(job: Job) -> list[ValidationRow]:
    """Run the job in this process: sample, estimate, compare. Never raises for the estimator's failures."""
    return run_prepared(*prepare(job))


def run_prepared(job: Job, data: tuple[Any, ...]) -> list[ValidationRow]:
    """Run the estimator on the job's sample and compare with the truth; the estimator's failures become rows."""
    truth = task_truth(job.task, job.kind)
    start = time.perf_counter()
    try:
        call: Callable[..., Any] | None = job.estimator if callable(job.estimator) and not _is_module(job.estimator) else None
        result = call(*data) if call is not None else _library_call(job, data)
        estimates = _as_estimates(job.kind, result)
    except Exception as err:  # noqa: BLE001 - any failure of the estimator is recorded, and the run goes on
        return failed_rows(job, truth, "error", _message(err), time.perf_counter() - start)
    seconds = time.perf_counter() - start
    name = task_name(job.task)
    rows = []
    for quantity, true in truth.items():
        value, stderr = estimates.get(quantity, (math.nan, math.nan))
        if quantity not in estimates:
            status, message = "error", f"the estimator returned no {quantity!r} (it returned {sorted(estimates)})"
        elif not math.isfinite(value):
            status, message = "non-finite", f"the estimator returned {value}"
        else:
            rows.append(ValidationRow(name, quantity, job.seed, job.n, true, value, stderr, value - true, seconds, "ok"))
            continue
        rows.append(ValidationRow(name, quantity, job.seed, job.n, true, math.nan, math.nan, math.nan, seconds, status, message))
    return rows


def _is_module(estimator: Any) -> bool:
    """Whether ``estimator`` is a torch module (an MIEstimator is callable, but is trained, not called)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(estimator, torch.nn.Module)


def run_job(job: Job, timeout: float | None) -> list[ValidationRow]:
    """Run the job here (no timeout) or in a fresh Python process stopped ``timeout`` seconds after it is ready."""
    if timeout is None:
        return run_here(job)
    import cloudpickle  # a joblib dependency: pickles lambdas and functions defined in __main__

    truth = task_truth(job.task, job.kind)
    # The worker does this process's job on its thread count (a fresh torch would take every core, see the guide's "Threads").
    torch = sys.modules.get("torch")
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())} if torch is not None else None
    with tempfile.TemporaryDirectory(prefix="miestim-validate-") as tmp:
        out = os.path.join(tmp, "rows.pickle")
        with open(os.path.join(tmp, "stderr.txt"), "w+b") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD, out],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                start_new_session=os.name == "posix",
                env=env,
            )
            assert proc.stdin is not None and proc.stdout is not None  # both are pipes
            try:
                proc.stdin.write(pickle.dumps([p for p in sys.path if isinstance(p, str)]) + cloudpickle.dumps(job))
                proc.stdin.close()
            except BrokenPipeError:  # it died before reading the job: reported below with its log
                pass
            signals: queue.Queue[bytes] = queue.Queue()
            threading.Thread(target=_read_signals, args=(proc.stdout, signals), daemon=True).start()
            ready = _next_signal(signals, STARTUP_SECONDS)
            start = time.perf_counter()
            done = _next_signal(signals, timeout) if ready == b"R" else ready
            if ready == b"R" and done is None:
                _kill(proc)
                return failed_rows(job, truth, "timeout", f"stopped after the timeout of {timeout:g} s", float(timeout))
            if done == b"D":
                _finish(proc)
            else:  # it died (the log says why), or did not start in time
                _kill(proc)
                if ready is None:
                    return failed_rows(job, truth, "error", f"the worker process did not start within {STARTUP_SECONDS:g} s", STARTUP_SECONDS)
                log.seek(0)
                tail = " / ".join(log.read().decode(errors="replace").strip().splitlines()[-3:])
                return failed_rows(
                    job, truth, "error", f"the worker process exited with status {proc.returncode}: {tail}", time.perf_counter() - start
                )
            proc.stdout.close()
        with open(out, "rb") as fh:
            return pickle.load(fh)


def _read_signals(stream: Any, signals: queue.Queue[bytes]) -> None:
    """Pass on the child's one-byte signals (b"" when it closes its end: it exited)."""
    for _ in range(2):
        byte = stream.read(1)
        signals.put(byte)
        if not byte:
            return


def _next_signal(signals: queue.Queue[bytes], seconds: float) -> bytes | None:
    """The next signal, or None after ``seconds``."""
    try:
        return signals.get(timeout=seconds)
    except queue.Empty:
        return None


def _finish(proc: subprocess.Popen[bytes]) -> None:
    """Let a child that is done exit; stop it if it lingers (its rows are already written)."""
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        _kill(proc)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Stop the child and anything it started (its own process group on POSIX)."""
    if os.name == "posix":
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:  # pragma: no cover - Windows
        proc.kill()
    proc.wait()
