"""What a validation run returns: one row per task, quantity and seed, a summary, and its renderings."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ValidationReport", "ValidationRow", "ValidationSummary"]

#: Row statuses: the estimate was read; the estimator raised; it ran past the timeout; it returned NaN or Inf.
STATUSES = ("ok", "error", "timeout", "non-finite")


@dataclass(frozen=True)
class ValidationRow:
    r"""One estimate against its true value.

    Attributes:
        task: the task's name.
        quantity: what was estimated: ``"I(X;Y)"``, ``"I(X;Y|Z)"`` or a decomposition term (``"Inv"``, ``"Spec_t"``, ...).
        seed: the seed of the sample (and of the estimator, for the library's own).
        n: samples drawn.
        truth: the exact value, nats.
        estimate: the estimator's value, nats (NaN unless ``status`` is ``"ok"``).
        stderr: the standard error the estimator reported, nats (NaN when it reports none).
        error: :math:`\hat I - I`, nats (NaN unless ``status`` is ``"ok"``).
        seconds: wall time of the estimator's call (the timeout for ``"timeout"``).
        status: ``"ok"``, ``"error"``, ``"timeout"`` or ``"non-finite"``.
        message: what went wrong (the exception's type and message), empty when ``"ok"``.
        estimator: which estimator produced the row, as :attr:`ValidationReport.estimator` describes it
            (``"default"`` resolves to the function and its default, e.g. ``"estimate_mi(estimator='auto')"``).
        labels: more facts about the row where one record holds rows of several libraries or
            settings (``benchmarks/compare``: the library, its estimator's name, what the estimate
            was scored on, ...); empty for the rows of :func:`miestim.validate`.
    """

    task: str
    quantity: str
    seed: int
    n: int
    truth: float
    estimate: float
    stderr: float
    error: float
    seconds: float
    status: str
    message: str = ""
    estimator: str = ""
    labels: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ValidationSummary:
    r"""The run in a few numbers.

    A task is *within tolerance* when every seed's row is ``"ok"`` and its mean error over the
    seeds satisfies :math:`|\bar e| \le \mathrm{tol} \cdot \max(1, |I|)`: an absolute
    tolerance below 1 nat, a relative one above.

    Attributes:
        mean_abs_error: mean of :math:`|\hat I - I|` over the ``"ok"`` rows, nats (NaN when none).
        max_abs_error: the largest of them, nats (NaN when none).
        tasks: number of (task, quantity) pairs.
        within_tolerance: how many of them are within tolerance.
        tolerance: the tolerance used.
        failures: rows whose status is not ``"ok"``.
        seconds: the estimators' total time.
    """

    mean_abs_error: float
    max_abs_error: float
    tasks: int
    within_tolerance: int
    tolerance: float
    failures: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"{self.within_tolerance}/{self.tasks} within tolerance ({self.tolerance:g} nats, relative above 1 nat); "
            f"mean |error| {self.mean_abs_error:.3f} nats, max {self.max_abs_error:.3f}; {self.failures} failed; "
            f"{self.seconds:.1f} s of estimation"
        )


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _number(value: float, spec: str) -> str:
    return format(value, spec) if math.isfinite(value) else "—"


@dataclass(frozen=True)
class ValidationReport:
    r"""The result of :func:`~miestim.validate`: every estimate against its truth, with the error :math:`\hat I - I` in nats.

    Attributes:
        rows: one :class:`ValidationRow` per task, quantity and seed, in task order then seed order.
        estimator: a description of the estimator validated (its name, class or function).
        suite: the suite's name, or ``"custom"`` for a list of tasks.
        n: samples per task.
        seeds: the seeds.
        tolerance: the tolerance of :attr:`summary`.
        meta: facts about the run (miestim and torch versions, date, jobs, timeout).
        units: always ``"nats"``.
    """

    rows: tuple[ValidationRow, ...]
    estimator: str
    suite: str
    n: int
    seeds: tuple[int, ...]
    tolerance: float
    meta: dict[str, Any] = field(default_factory=dict)
    units: str = "nats"

    @property
    def summary(self) -> ValidationSummary:
        """The :class:`ValidationSummary` of the rows."""
        ok = [r for r in self.rows if r.status == "ok"]
        errors = [abs(r.error) for r in ok]
        groups: dict[tuple[str, str], list[ValidationRow]] = {}
        for r in self.rows:
            groups.setdefault((r.task, r.quantity), []).append(r)
        within = 0
        for rows in groups.values():
            if all(r.status == "ok" for r in rows):
                mean_error = sum(r.error for r in rows) / len(rows)
                within += abs(mean_error) <= self.tolerance * max(1.0, abs(rows[0].truth))
        return ValidationSummary(
            mean_abs_error=sum(errors) / len(errors) if errors else math.nan,
            max_abs_error=max(errors) if errors else math.nan,
            tasks=len(groups),
            within_tolerance=within,
            tolerance=self.tolerance,
            failures=len(self.rows) - len(ok),
            seconds=sum(r.seconds for r in self.rows),
        )

    @property
    def failures(self) -> tuple[ValidationRow, ...]:
        """The rows whose status is not ``"ok"``."""
        return tuple(r for r in self.rows if r.status != "ok")

    def to_markdown(self) -> str:
        """A Markdown table of the rows (task, truth, estimate ± stderr, error, seconds), then the summary line.

        A quantity column appears when a task has several, a seed column for several seeds, and a
        status column when a row failed (with its message).
        """
        show_quantity = any(r.quantity not in ("I(X;Y)", "I(X;Y|Z)") for r in self.rows)
        show_seed = len(self.seeds) > 1
        show_status = any(r.status != "ok" for r in self.rows)
        head = ["task"] + ["quantity"] * show_quantity + ["seed"] * show_seed + ["truth", "estimate ± stderr", "error", "seconds"]
        head += ["status"] * show_status
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            estimate = _number(r.estimate, ".3f") + (f" ± {r.stderr:.3f}" if math.isfinite(r.stderr) else "")
            cells = [r.task] + [r.quantity] * show_quantity + [str(r.seed)] * show_seed
            cells += [f"{r.truth:.3f}", estimate, _number(r.error, "+.3f"), f"{r.seconds:.1f}"]
            if show_status:
                cells.append(r.status + (f": {r.message}" if r.message else ""))
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return "\n".join(lines) + f"\n\n{self.summary}\n"

    def to_dict(self) -> dict[str, Any]:
        """A plain-Python record (JSON-serialisable; NaN becomes None): the run's settings, meta, summary and rows."""
        return {
            "estimator": self.estimator,
            "suite": self.suite,
            "n": self.n,
            "seeds": list(self.seeds),
            "tolerance": self.tolerance,
            "units": self.units,
            "meta": self.meta,
            "summary": {k: _finite_or_none(v) for k, v in asdict(self.summary).items()},
            "rows": [{k: _finite_or_none(v) for k, v in asdict(r).items()} for r in self.rows],
        }

    def to_json(self, *, indent: int | None = 1) -> str:
        """:meth:`to_dict` as a JSON string (strict JSON: NaN is written as null)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_pandas(self) -> Any:
        """The rows as a ``pandas.DataFrame``, one column per :class:`ValidationRow` field (needs pandas).

        Raises:
            ImportError: pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError("ValidationReport.to_pandas needs pandas: pip install pandas (or use to_dict / to_json).") from err
        return pd.DataFrame([asdict(r) for r in self.rows])

    def plot(self, path: Any = None, *, ax: Any = None) -> Any:
        """Estimate against truth, with ±1 standard-error bars and the diagonal (needs matplotlib: extra ``plot``).

        Args:
            path: save the figure there (e.g. ``"runs/validate.png"``); default None: do not save.
            ax: matplotlib axes to draw on (default: a new figure).

        Returns:
            The matplotlib axes.

        Raises:
            ImportError: matplotlib is not installed.
        """
        try:
            import matplotlib

            if ax is None and path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as err:
            raise ImportError("ValidationReport.plot needs matplotlib: pip install 'miestim[plot]'.") from err
        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 5.0))
        ok = [r for r in self.rows if r.status == "ok"]
        truths = [r.truth for r in self.rows]
        low, high = min(truths + [r.estimate for r in ok], default=0.0), max(truths + [r.estimate for r in ok], default=1.0)
        ax.plot([low, high], [low, high], color="0.6", linewidth=1, label="estimate = truth")
        yerr = [r.stderr if math.isfinite(r.stderr) else 0.0 for r in ok]
        ax.errorbar([r.truth for r in ok], [r.estimate for r in ok], yerr=yerr, fmt="o", capsize=3, label="estimate ± stderr")
        failed = [r for r in self.rows if r.status != "ok"]
        if failed:
            ax.plot([r.truth for r in failed], [low] * len(failed), "x", color="tab:red", label="failed (at the bottom)")
        ax.set_xlabel(f"true value ({self.units})")
        ax.set_ylabel(f"estimate ({self.units})")
        ax.set_title(f"{self.estimator} on {self.suite} (n={self.n})")
        ax.legend(loc="upper left")
        if path is not None:
            ax.figure.savefig(path, dpi=120, bbox_inches="tight")
        return ax
