"""The tables ``python -m benchmarks docs`` writes into the pages, each a function of stored records.

Where a benchmark already prints a table, the function here calls the benchmark's own code on the
stored rows, so the page and the benchmark's output cannot drift apart.
"""

from __future__ import annotations

import importlib
import inspect
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import miestim
from miestim.validation import ValidationReport, ValidationRow

from ._report import markdown_table

Record = dict[str, Any]
Render = Callable[..., str]


def benchmark_page(module: str, row: str | None, table: str, *lines: str, stored_lines: bool = False) -> Render:
    """A renderer of a record as its benchmark prints it: ``benchmarks.<module>.<table>`` of the stored rows.

    ``row`` names the benchmark's row dataclass (``None``: its functions take the rows as dicts);
    ``lines`` name functions of the rows that return verdict or summary lines, listed under the
    table; ``stored_lines`` lists the record's own ``targets`` instead (lines the benchmark
    computed in its ``main``).
    """

    def render(record: Record) -> str:
        bench = importlib.import_module(f"benchmarks.{module}")
        rows = [getattr(bench, row)(**r) for r in record["rows"]] if row else record["rows"]
        text = [line for name in lines for line in getattr(bench, name)(rows)] + (record.get("targets", []) if stored_lines else [])
        return getattr(bench, table)(rows) + ("\n\n" + "\n".join(f"- {line}" for line in text) if text else "")

    return render


def code_default(function: str, option: str) -> Any:
    """The default of ``option`` in ``miestim.<function>``'s signature: what "the default" means in a page."""
    return inspect.signature(getattr(miestim, function)).parameters[option].default


# ------------------------------------------------------------------ estimate_mi(estimator="auto")
def _auto_stats(row: Record) -> tuple[float, float, float]:
    """Mean error, mean |error| and mean seconds of an auto record's row (one task over its seeds)."""
    return statistics.fmean(row["errors"]), statistics.fmean(abs(e) for e in row["errors"]), statistics.fmean(row["seconds"])


def _kept(row: Record) -> str:
    return ", ".join(f"{family} {count}" for family, count in Counter(row["families"]).most_common())


def auto_summary(auto: Record) -> str:
    """The default estimator over seeds: task, truth, mean |error|, seconds per estimate, the family the folds kept."""
    seeds = len(auto["meta"].get("seeds", [0]))
    lines = []
    for row in auto["rows"]:
        _, mean_abs, seconds = _auto_stats(row)
        lines.append([row["task"], f"{row['truth']:.3f}", f"{row['n']:,}", f"{mean_abs:.3f}", f"{seconds:.1f}", _kept(row)])
    head = ["task", "true MI", "N", f"mean |error| ({seeds} seeds)", "s / estimate", "family kept (folds)"]
    return markdown_table(head, lines)


def auto_families(auto: Record, gaussian: Record) -> str:
    """The default against its Gaussian-copula family alone: what the race adds."""
    alone = {row["task"]: row for row in gaussian["rows"]}
    lines = []
    for row in auto["rows"]:
        mean, mean_abs, seconds = _auto_stats(row)
        other = alone.get(row["task"])
        g = f"{_auto_stats(other)[0]:+.3f} / {_auto_stats(other)[1]:.3f}" if other else "—"
        lines.append([row["task"], f"{row['n']:,}", f"{mean:+.3f} / {mean_abs:.3f}", _kept(row), g, f"{seconds:.1f}"])
    head = ["task", "N", "default: mean error / mean |error|", "families kept (of all folds)", "Gaussian family alone", "s / estimate"]
    return markdown_table(head, lines)


# ------------------------------------------------------------------ validate, large data
def validate_report(record: Record) -> str:
    """A stored validation run as ``ValidationReport.to_markdown`` prints it, under the estimator's name."""
    fields = {f for f in inspect.signature(ValidationRow).parameters}
    rows = tuple(ValidationRow(**{k: math.nan if v is None else v for k, v in row.items() if k in fields}) for row in record["rows"])
    report = ValidationReport(rows, record["estimator"], record["suite"], record["n"], tuple(record["seeds"]), record["tolerance"])
    return f"Estimator: `{report.estimator}` · suite `{report.suite}` · n = {report.n} · seeds {list(report.seeds)}\n\n" + report.to_markdown()


# ------------------------------------------------------------------ estimate_cmi, decompose
def cmi_chain_summary(record: Record) -> str:
    """Per task and method over the seeds: truth, mean error, worst seed, seconds per estimate."""
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for row in record["rows"]:
        groups[row["task"], row["method"]].append(row)
    default = code_default("estimate_cmi", "method")
    lines = []
    for (task, method), rows in groups.items():
        errors = [r["error"] for r in rows]
        name = f"`{method}`" + (" (default)" if method == default or (default == "auto" and method == "chain_rule") else "")
        lines.append(
            [
                task,
                name,
                f"{rows[0]['truth']:.3f}",
                str(len(rows)),
                f"{statistics.fmean(errors):+.3f}",
                f"{max(errors, key=abs):+.3f}",
                f"{statistics.fmean(r['seconds'] for r in rows):.1f}",
            ]
        )
    return markdown_table(["task", "method", "truth", "seeds", "mean error", "worst seed", "s / estimate"], lines)


def decomposition_summary(record: Record) -> str:
    """Per method: the largest and the mean |error| over the terms, and the seconds of the whole call."""
    default = code_default("decompose", "method")
    by_method: dict[str, list[Record]] = defaultdict(list)
    for row in record["rows"]:
        by_method[row["method"]].append(row)
    lines = []
    for method, rows in by_method.items():
        worst = max(rows, key=lambda r: abs(r["error"]))
        mean_abs = statistics.fmean(abs(r["error"]) for r in rows)
        name = f"`{method}`" + (" (default)" if method == default else "")
        lines.append([name, f"{abs(worst['error']):.3f} ({worst['term']})", f"{mean_abs:.3f}", f"{rows[0]['seconds']:.1f}"])
    return markdown_table(["method", "max |error|", "mean |error|", "seconds"], lines)


# ------------------------------------------------------------------ the side-by-side comparison
def _compare_rows(record: Record) -> list[ValidationRow]:
    from .compare import runners

    return [runners.from_record(row) for row in record["rows"]]


def compare_gaps(record: Record) -> str:
    """Issue 30's side-by-side verdicts and table: each method's mean relative error per task, and whom the default beats."""
    from .compare import report

    summaries = report.summarize(_compare_rows(record))
    return "\n".join(["```", *report.check_gaps(summaries), "```", "", *report.gap_table(summaries)])


def compare_page(record: Record) -> str:
    """A stored comparison as ``python -m benchmarks compare`` writes its page: the protocol, then every table."""
    from .compare import report, run

    return run.protocol_notes() + "\n\n" + report.markdown(report.summarize(_compare_rows(record)), record.get("skipped", {}))


def _compare_groups(record: Record, kind: str) -> dict[tuple[str, int], dict[tuple[str, str], list[ValidationRow]]]:
    """(task, n) -> (library, estimator) -> its successful rows."""
    groups: dict[tuple[str, int], dict[tuple[str, str], list[ValidationRow]]] = defaultdict(lambda: defaultdict(list))
    for row in _compare_rows(record):
        if row.labels["kind"] == kind and row.status == "ok":
            groups[row.task, row.n][row.labels["library"], row.labels["estimator"]].append(row)
    return groups


def _mean_abs(rows: list[ValidationRow]) -> float:
    return statistics.fmean(abs(r.error) for r in rows)


def compare_best(*libraries: str) -> Render:
    """A renderer of a compare record: for the tasks run over several seeds, miestim's default against the
    most accurate estimator of each of ``libraries`` (mean |error| and seconds per estimate)."""

    def render(record: Record) -> str:
        lines = []
        for (task, n), by in _compare_groups(record, "mi").items():
            if len(by.get(("miestim", "auto"), [])) < 2:  # the core (or beyond) tasks: the ones run over several seeds
                continue
            cells = [task, f"{n:,}"]
            for library in ("miestim", *libraries):
                candidates = {e: rows for (lib, e), rows in by.items() if lib == library and (library != "miestim" or e == "auto")}
                if not candidates:
                    cells.append("—")
                    continue
                best = min(candidates, key=lambda e: _mean_abs(candidates[e]))
                rows = candidates[best]
                cells.append(f"{best} {_mean_abs(rows):.3f} ({statistics.fmean(r.seconds for r in rows):.1f} s)")
            lines.append(cells)
        return markdown_table(["task", "n", "miestim default", *(f"best of {lib}" for lib in libraries)], lines)

    return render


def compare_cmi(record: Record) -> str:
    """The CMI tasks: every library's error, miestim's default (the chain rule) first."""
    groups = _compare_groups(record, "cmi")
    columns = sorted({key for by in groups.values() for key in by}, key=lambda k: (k[0] != "miestim", k[0], k[1] != "auto", k[1]))
    lines = []
    for (task, n), by in groups.items():
        truth = next(iter(by.values()))[0].truth
        lines.append([task, f"{n:,}", f"{truth:.3f}", *(f"{statistics.fmean(r.error for r in by[c]):+.3f}" if c in by else "—" for c in columns)])
    return markdown_table(["task", "n", "truth", *(f"{lib} {est}" for lib, est in columns)], lines)


def sampler(record: Record) -> str:
    """The sampler benchmark's one measurement, as it prints it."""
    from . import sampler_speed

    return sampler_speed.format_table(record)


def speed(record: Record) -> str:
    """The comparison's speed section: seconds per estimate, training steps per second, the sampler."""
    from .compare import speed as bench

    return bench.markdown(record["training"], record["per_estimate"], record.get("sampler"))


def oracle_cmi(record: Record) -> str:
    """The oracle record's conditional rows: each CMI readout of the exact critic."""
    from . import oracle

    return oracle.markdown([oracle.Row(**row) for row in record["rows"] if "|" in row["quantity"]])


def staircase(record: Record) -> str:
    """The staircase's tables, from the per-step statistics of its record."""
    from .compare import staircase as bench

    return bench.markdown(record["bounds"])


def seeds_variants(*variants: str) -> Render:
    """A renderer of the seeds record restricted to some critic variants (``"default"``, ``"quadratic"``, ...)."""

    def render(record: Record) -> str:
        from . import seeds as bench

        return bench.summary([bench.Row(**row) for row in record["rows"] if row["variant"] in variants])

    return render


def oracle_mi(record: Record) -> str:
    """The oracle record's MI rows: each readout of the exact critic on Gaussian tasks."""
    from . import oracle

    return oracle.markdown([oracle.Row(**row) for row in record["rows"] if "|" not in row["quantity"]])


def threads(record: Record) -> str:
    """The threads benchmark's table and its "fastest" lines, as ``python -m benchmarks threads`` prints them."""
    from . import threads as bench

    meta = record["meta"]
    result = {"rows": record["rows"], "demo": record["demo"], "load": meta["load"]}
    counts = sorted({r["threads"] for r in record["rows"]})
    lines = bench.fastest(result)
    return bench.table(result, counts, meta["timeout_s"], meta["cores"]) + "\n" + "\n".join(f"- {line}" for line in lines)


def demo_seconds(record: Record) -> str:
    """One sentence: how long ``make demo`` took after setup, idle and beside one busy process."""
    seconds = {r["condition"]: r["seconds"] for r in record["demo"]}
    return (
        f"After setup, `make demo` took {seconds['idle']:.0f} s on an idle 2-core machine and "
        f"{seconds['loaded']:.0f} s beside one busy process ([threads.md](docs/benchmarks/threads.md))."
    )


def mutation(record: Record) -> str:
    """The mutation record's per-module counts, and where its survivors are listed."""
    from . import mutation as bench

    survivors = record["survivors"]
    explained = sum(1 for s in survivors if s.get("equivalent"))
    return bench.table(record["modules"]) + (
        f"\n\n- {len(survivors)} mutants no test kills are listed in the record with their diffs; {explained} of them are "
        "explained as equivalent, each with its reason in `benchmarks/mutation_equivalent.json` (a device argument is "
        "equivalent on this CPU-only machine only, as its reason says)."
    )
