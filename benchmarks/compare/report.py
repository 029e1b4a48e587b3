"""Tables, target checks, the ahead/behind summary and the plots of the side-by-side comparison."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from miestim.validation import ValidationRow

from .._report import markdown_table
from .._suites import BARS
from .runners import DEFAULTS
from .tasks import BEYOND_KEYS, CORE, GAP_BARS, GAP_KEYS, GAPS, TRANSFORMS

#: (task key, n) of the issue's targets: the default miestim estimator must have a lower mean
#: |error| than every torch-mist and bmi estimator there, in at most half the time of the most accurate.
TARGETS = (("d5-mi2-plain", 10_000), ("d20-mi4-plain", 10_000))
#: how much larger |error| must be before a difference is called "behind" in the summary (nats).
MARGIN = 0.05
OURS = ("miestim", DEFAULTS["miestim"])
#: the miestim estimator that issue 17's beyond-Gaussian bars judge: the default, ``estimator="auto"``.
BEYOND_OURS = OURS
#: the estimators run on the whole grid (the others only on the core tasks).
GRID = (OURS, ("plug-in", "gaussian-copula"), ("bmi", "ksg"), ("bmi", "cca"), ("sklearn", "ksg"))
PLUGIN = ("plug-in", "gaussian-copula")
#: on a Gaussian-copula task the default may be worse than the plug-in by at most this (nats).
COPULA_SLACK = 0.02
#: the time bars: at most this fraction of torch-mist MINE's seconds on the same samples, and at most this many seconds.
TIME_FRACTION, TIME_LIMIT_S = 0.5, 10.0
#: issue 30's rivals: on each of its tasks the default's mean relative error must be lower than each of theirs.
GAP_RIVALS = (("bmi", "cca"), ("frites", "gcmi"), ("bmi", "ksg"), ("latentmi", "lmi"))


def scored_on(s: Summary) -> str:
    """Short form of what the estimate was computed on (the protocol table has the details)."""
    if (s.library, s.estimator) == BEYOND_OURS:
        return "every row once (cross-fit)"
    if s.library in ("miestim", "torch-mist"):
        return "held-out 20%"
    if s.library == "bmi" and s.estimator not in ("ksg", "cca"):
        return "best of its 50% test half"
    if s.library == "plug-in":
        return "all rows (normal scores)"
    if s.library == "frites":
        return "all rows (copnorm, bias-corrected)"
    if s.library == "latentmi":
        return "its random 50% half (epochs capped)"
    return "all rows (no split)"


def label(library: str, estimator: str) -> str:
    default = library in ("miestim", "torch-mist") and DEFAULTS[library] == estimator
    return f"{library} {estimator}" + (" (default)" if default else "")


@dataclass
class Summary:
    """One estimator on one task at one n, over its seeds."""

    task: str
    kind: str
    dim: int
    transform: str
    n: int
    truth: float
    library: str
    estimator: str
    seeds: int
    failures: int
    mean_estimate: float
    mean_error: float
    sd_error: float
    mean_abs_error: float
    mean_seconds: float
    evaluated_on: str
    mean_train_estimate: float | None
    messages: tuple[str, ...]
    copula: str = "gaussian"

    @property
    def name(self) -> str:
        return label(self.library, self.estimator)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def summarize(rows: Iterable[ValidationRow]) -> list[Summary]:
    """One :class:`Summary` per task, n, library and estimator, over its seeds."""
    groups: dict[tuple, list[ValidationRow]] = defaultdict(list)
    for r in rows:
        groups[(r.task, r.n, r.labels["library"], r.labels["estimator"])].append(r)
    out = []
    for (task, n, library, estimator), rs in groups.items():
        ok = [r for r in rs if r.status == "ok"]
        errors = [r.error for r in ok]
        sd = math.sqrt(sum((e - _mean(errors)) ** 2 for e in errors) / (len(errors) - 1)) if len(errors) > 1 else math.nan
        trains = [r.labels["estimate_train"] for r in ok if r.labels.get("estimate_train") is not None]
        first = rs[0].labels
        out.append(
            Summary(
                task,
                first["kind"],
                first["dim"],
                first["transform"],
                n,
                rs[0].truth,
                library,
                estimator,
                len(ok),
                len(rs) - len(ok),
                _mean([r.estimate for r in ok]),
                _mean(errors),
                sd,
                _mean([abs(e) for e in errors]),
                _mean([r.seconds for r in ok if math.isfinite(r.seconds)]),
                next((r.labels["evaluated_on"] for r in rs if r.labels.get("evaluated_on")), ""),
                _mean(trains) if trains else None,
                tuple(sorted({r.message for r in rs if r.message})),
                first.get("copula", "gaussian"),
            )
        )
    return out


def _by_task(summaries: list[Summary]) -> dict[tuple[str, int], list[Summary]]:
    out: dict[tuple[str, int], list[Summary]] = defaultdict(list)
    for s in summaries:
        out[(s.task, s.n)].append(s)
    return out


def _err(s: Summary) -> str:
    if s.seeds == 0:
        return "failed"
    return f"{s.mean_error:+.3f}" + (f" ± {s.sd_error:.3f}" if s.seeds > 1 else "")


def _vs_ours(s: Summary, ours: Summary | None) -> str:
    if ours is None or s is ours or s.seeds == 0 or ours.seeds == 0:
        return ""
    diff = s.mean_abs_error - ours.mean_abs_error
    acc = "miestim ahead" if diff > 0 else "miestim behind"
    speed = s.mean_seconds / ours.mean_seconds if ours.mean_seconds > 0 else math.nan
    pace = f"{speed:.1f}x its time" if speed >= 1 else f"{1 / speed:.1f}x faster"
    return f"{acc} by {abs(diff):.3f}; this one takes {pace}" if speed >= 1 else f"{acc} by {abs(diff):.3f}; this one is {pace}"


def detailed_table(group: list[Summary]) -> list[str]:
    """Every estimator on one task, most accurate first."""
    ours = next((s for s in group if (s.library, s.estimator) == OURS), None)
    head = ["estimator", "seeds", "mean estimate", "error (mean ± sd)", "mean |error|", "seconds", "vs miestim default", "scored on"]
    lines = []
    for s in sorted(group, key=lambda s: (s.seeds == 0, s.mean_abs_error)):
        name = f"**{s.name}**" if s is ours else s.name
        train = f" (on its training rows: {s.mean_train_estimate:.3f})" if s.mean_train_estimate is not None else ""
        fail = f" — {s.failures} failed: {'; '.join(s.messages)[:120]}" if s.failures else ""
        lines.append([name, s.seeds, f"{s.mean_estimate:.3f}{train}", _err(s), f"{s.mean_abs_error:.3f}", f"{s.mean_seconds:.1f}", _vs_ours(s, ours)])
        lines[-1].append(f"{scored_on(s)}{fail}")
    return markdown_table(head, lines).splitlines()


def check_targets(summaries: list[Summary]) -> list[str]:
    """PASS/MISS per target task against every torch-mist and bmi estimator, then against their neural ones only."""
    report = []
    groups = _by_task(summaries)
    for task, n in TARGETS:
        group = groups.get((task, n), [])
        ours = next((s for s in group if (s.library, s.estimator) == OURS and s.seeds), None)
        rivals = [s for s in group if s.library in ("torch-mist", "bmi") and s.seeds]
        if ours is None or not rivals:
            report.append(f"n/a  {task} n={n:,}: {'no miestim result' if ours is None else 'no torch-mist or bmi result (not run or skipped)'}")
            continue
        for scope, pool in (
            ("every torch-mist and bmi estimator", rivals),
            ("their neural estimators only (no KSG, CCA)", [s for s in rivals if s.estimator not in ("ksg", "cca")]),
        ):
            if not pool:
                continue
            better = sorted((s for s in pool if s.mean_abs_error <= ours.mean_abs_error), key=lambda s: s.mean_abs_error)
            best = min(pool, key=lambda s: s.mean_abs_error)
            fast = ours.mean_seconds <= 0.5 * best.mean_seconds
            accuracy = (
                f"lower than all {len(pool)}" if not better else "not lower than " + ", ".join(f"{s.name} ({s.mean_abs_error:.3f})" for s in better)
            )
            report.append(
                f"{'PASS' if not better and fast else 'MISS'} {task} n={n:,} vs {scope}: miestim default mean |error| "
                f"{ours.mean_abs_error:.3f} ({ours.seeds} seed{'' if ours.seeds == 1 else 's'}) is {accuracy}; it takes {ours.mean_seconds:.1f} s, the most accurate "
                f"of them ({best.name}, {best.mean_abs_error:.3f}) {best.mean_seconds:.1f} s: "
                f"{'at most' if fast else 'more than'} half"
            )
    return report


def check_beyond(summaries: list[Summary]) -> list[str]:
    """PASS/MISS per beyond-Gaussian task against issue 17's bars: accuracy, the other estimators, and time.

    Accuracy: the mean estimate over the seeds against :data:`BARS`. Versus the others: on a
    task whose copula is not Gaussian, a lower mean |error| than every other estimator run (CCA, the
    plug-in, KSG, every torch-mist and bmi neural estimator); on a Gaussian-copula task, a mean |error|
    at most the plug-in's + :data:`COPULA_SLACK`. Time: at most :data:`TIME_FRACTION` of torch-mist
    MINE's mean seconds on the same samples and at most :data:`TIME_LIMIT_S`. The estimator
    judged is :data:`BEYOND_OURS`, ``estimate_mi(estimator="auto")``.
    """
    lines = []
    groups = _by_task(summaries)
    for (task, n), group in sorted(groups.items(), key=lambda kv: (BEYOND_KEYS.index(kv[0][0]) if kv[0][0] in BEYOND_KEYS else 99, kv[0][1])):
        if task not in BEYOND_KEYS or group[0].transform == GAPS:
            continue
        ours = next((s for s in group if (s.library, s.estimator) == BEYOND_OURS and s.seeds), None)
        where = f"{task} n={n:,}"
        if ours is None:
            lines.append(f"n/a  {where}: no miestim auto result")
            continue
        kind, bar = BARS.get(task, ("within", math.inf))
        ok = ours.mean_estimate >= bar if kind == "at least" else abs(ours.mean_error) <= bar
        lines.append(
            f"{'PASS' if ok else 'MISS'} {where} accuracy: mean estimate {ours.mean_estimate:.3f} of {ours.truth:.4f} "
            f"over {ours.seeds} seeds ({kind} {bar:g}{'' if kind == 'at least' else ' of the truth'})"
        )
        others = [s for s in group if s.library != "miestim" and s.seeds]
        if ours.copula == "gaussian":
            plugin = next((s for s in others if (s.library, s.estimator) == PLUGIN), None)
            if plugin is None:
                lines.append(f"n/a  {where} vs the plug-in: no plug-in result")
            else:
                ok = ours.mean_abs_error <= plugin.mean_abs_error + COPULA_SLACK
                lines.append(
                    f"{'PASS' if ok else 'MISS'} {where} vs the plug-in (Gaussian copula): mean |error| {ours.mean_abs_error:.3f}, "
                    f"the plug-in's {plugin.mean_abs_error:.3f} + {COPULA_SLACK}"
                )
        elif not others:
            lines.append(f"n/a  {where} vs the others: no other estimator run")
        else:
            better = sorted((s for s in others if s.mean_abs_error <= ours.mean_abs_error), key=lambda s: s.mean_abs_error)
            text = (
                f"lower than all {len(others)}" if not better else "not lower than " + ", ".join(f"{s.name} ({s.mean_abs_error:.3f})" for s in better)
            )
            lines.append(f"{'PASS' if not better else 'MISS'} {where} vs the others: mean |error| {ours.mean_abs_error:.3f} is {text}")
        mine = next((s for s in group if (s.library, s.estimator) == ("torch-mist", "mine") and s.seeds), None)
        fast = ours.mean_seconds <= TIME_LIMIT_S and (mine is None or ours.mean_seconds <= TIME_FRACTION * mine.mean_seconds)
        ref = "no torch-mist MINE result" if mine is None else f"torch-mist MINE {mine.mean_seconds:.1f} s"
        lines.append(
            f"{'PASS' if fast and mine is not None else 'MISS' if not fast else 'n/a '} {where} time: {ours.mean_seconds:.1f} s "
            f"(bars: <= {TIME_FRACTION:g}x torch-mist MINE, <= {TIME_LIMIT_S:g} s; {ref})"
        )
    return lines


def check_copula_tasks(summaries: list[Summary], slack: float = COPULA_SLACK) -> list[str]:
    """Gaussian-copula tasks where the default's mean |error| exceeds the plug-in's + ``slack``, then a count line."""
    lines, total = [], 0
    for (task, n), group in sorted(_by_task(summaries).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        ours = next((s for s in group if (s.library, s.estimator) == OURS and s.seeds), None)
        plugin = next((s for s in group if (s.library, s.estimator) == PLUGIN and s.seeds), None)
        if ours is None or plugin is None or ours.copula != "gaussian" or ours.kind != "mi":
            continue
        total += 1
        if ours.mean_abs_error > plugin.mean_abs_error + slack:
            lines.append(f"MISS {task} n={n:,}: mean |error| {ours.mean_abs_error:.3f} > the plug-in's {plugin.mean_abs_error:.3f} + {slack}")
    if total:
        lines.append(
            f"{'PASS' if not lines else 'MISS'} the default is within {slack} of the plug-in's mean |error| on "
            f"{total - len(lines)} of {total} Gaussian-copula MI tasks"
        )
    return lines


def relative_error(s: Summary) -> float:
    """Mean |error| over the seeds divided by the truth: issue 30's measure."""
    return s.mean_abs_error / s.truth if s.truth > 0 else math.nan


def _gap_groups(summaries: list[Summary]) -> list[tuple[tuple[str, int], Summary | None, list[Summary]]]:
    """Issue 30's (task, n) in its order: the default's summary (None if it has no result) and every other estimator's with a result."""
    groups = sorted(
        ((k, v) for k, v in _by_task(summaries).items() if v[0].transform == GAPS),
        key=lambda kv: (GAP_KEYS.index(kv[0][0]) if kv[0][0] in GAP_KEYS else 99, kv[0][1]),
    )
    out = []
    for key, group in groups:
        ours = next((s for s in group if (s.library, s.estimator) == OURS and s.seeds), None)
        out.append((key, ours, [s for s in group if s.library != "miestim" and s.seeds]))
    return out


def _bar(task: str, ours: Summary) -> str:
    """Issue 30's bar for the default on ``task`` and whether its mean over the seeds meets it."""
    kind, bar = GAP_BARS.get(task, ("relative", math.nan))
    if kind == "abs":
        return f"mean abs error <= {bar:g}: {'met' if ours.mean_abs_error <= bar else 'missed'}"
    return f"<= {bar:.0%}: {'met' if relative_error(ours) <= bar else 'missed'}"


def check_gaps(summaries: list[Summary]) -> list[str]:
    """PASS/MISS per issue-30 task: the default's mean relative error below every other estimator's; then a count line.

    PASS needs a result from each of :data:`GAP_RIVALS` (CCA, frites' bias-corrected Gaussian-copula
    MI, KSG, latentmi) and a lower mean relative error than every other estimator run on the task;
    a task missing one of them is "n/a" unless it is already a MISS.
    """
    lines, passed, total = [], 0, 0
    for (task, n), ours, others in _gap_groups(summaries):
        where = f"{task} n={n:,}"
        if ours is None:
            lines.append(f"n/a  {where}: no miestim auto result")
            continue
        total += 1
        mine = relative_error(ours)
        better = [s for s in sorted(others, key=relative_error) if relative_error(s) <= mine]
        missing = [f"{lib} {est}" for lib, est in GAP_RIVALS if not any((s.library, s.estimator) == (lib, est) for s in others)]
        status = "MISS" if better else "n/a " if missing else "PASS"
        passed += status == "PASS"
        text = f"lower than all {len(others)}" if not better else "not lower than " + ", ".join(f"{s.name} ({relative_error(s):.1%})" for s in better)
        gone = f"; no result from {', '.join(missing)}" if missing else ""
        lines.append(
            f"{status} {where}: the default's mean relative error {mine:.1%} ({ours.seeds} seed{'' if ours.seeds == 1 else 's'}) is {text}{gone}"
        )
    if total:
        lines.append(f"{'PASS' if passed == total else 'MISS'} the default is the most accurate on {passed} of {total} issue-30 tasks")
    return lines


def gap_record(summaries: list[Summary]) -> list[dict[str, object]]:
    """Per issue-30 task: the truth, each estimator's mean relative error and seeds, and whether the default's is lower."""
    record: list[dict[str, object]] = []
    for (task, n), ours, others in _gap_groups(summaries):
        mine = relative_error(ours) if ours is not None else math.nan
        methods = {s.name: {"relative_error": relative_error(s), "seeds": s.seeds, "mean_seconds": s.mean_seconds} for s in others}
        if ours is not None:
            methods[ours.name] = {"relative_error": mine, "seeds": ours.seeds, "mean_seconds": ours.mean_seconds}
        beaten = {s.name: bool(mine < relative_error(s)) for s in others}
        truth = ours.truth if ours is not None else others[0].truth if others else math.nan
        record.append({"task": task, "n": n, "truth": truth, "methods": methods, "default_lower_than": beaten})
    return record


def gap_table(summaries: list[Summary]) -> list[str]:
    """One line per issue-30 task: truth, every estimator's mean relative error, the default's bar, and whom it beats."""
    rows = _gap_groups(summaries)
    present = {(s.library, s.estimator) for _, ours, others in rows for s in ([ours] if ours else []) + others}
    order = [OURS, *GAP_RIVALS]
    names = [le for le in order if le in present] + sorted(present - set(order))
    lines = []
    for (task, n), ours, others in rows:
        index = {(s.library, s.estimator): s for s in ([ours] if ours else []) + others}
        cells = [f"{relative_error(index[le]):.1%}" if le in index else "" for le in names]
        truth = ours.truth if ours is not None else others[0].truth if others else math.nan
        if ours is None:
            lines.append([task, f"{n:,}", f"{truth:.4f}", *cells, "", "no default result"])
            continue
        lost = [s.name for s in others if relative_error(s) <= relative_error(ours)]
        verdict = f"all {len(others)}" if not lost else "not: " + ", ".join(lost)
        lines.append([task, f"{n:,}", f"{truth:.4f}", *cells, _bar(task, ours), verdict])
    head = ["task", "n", "truth (nats)", *(label(*le) for le in names), "default's bar", "default lower than"]
    return markdown_table(head, lines).splitlines() if lines else []


#: what frites and latentmi compute (they run only on issue 30's tasks, so the page describes them here).
GAP_METHODS = (
    "frites `gcmi`: `frites.core.gcmi_nd_cc` on all rows, frites' copula normalisation then the Gaussian MI with its "
    "analytic bias correction; latentmi `lmi`: `latentmi.lmi.estimate` with its defaults (paired auto-encoders with "
    "cross-prediction, latent 8, Adam lr 1e-4, batch 512, patience 30; standardised on all rows, split 50/50 at random) "
    "but its epochs capped (its default, 300, takes minutes per estimate on a CPU), then KSG (k = 3) on the latents of "
    "the held half; its global random generators are seeded from the task's seed. Both return bits, reported in nats."
)


def gap_section(summaries: list[Summary]) -> list[str]:
    """The markdown section of issue 30's tasks: the checks, the table, and what each estimator was scored on."""
    table = gap_table(summaries)
    if not table:
        return []
    intro = (
        "Issue 30's tasks (`benchmarks.auto`): Student-t, spirals with and without a normal CDF, a 50x50 equicorrelated "
        "Gaussian, a 20x20 Gaussian with three pairs at n = 1,000, additive uniform noise, mixed Gaussians and a scale "
        "mixture. Each cell is the mean relative error, mean |error| / truth over the seeds. " + GAP_METHODS
    )
    # Read from the rows, so the page states the epoch cap and the split each estimate actually had.
    scored = {s.name: s.evaluated_on for _, ours, others in _gap_groups(summaries) for s in ([ours] if ours else []) + others}
    notes = ["Scored on:", "", *(f"- {name}: {where or 'not reported'}" for name, where in sorted(scored.items()))]
    return ["## Issue 30's tasks", "", intro, "", "```", *check_gaps(summaries), "```", "", *table, "", *notes, ""]


def behind(summaries: list[Summary], margin: float = MARGIN) -> tuple[list[list[str]], int, int]:
    """Tasks where another library's estimator beats the default miestim estimator's mean |error| by more than ``margin``.

    Returns the table rows (with the most accurate estimator, and the most accurate other than CCA, which
    is exact on Gaussian data by construction), the number of tasks where miestim is the most accurate,
    and the number of tasks compared.
    """
    lines, ahead_count, total = [], 0, 0
    for (task, n), group in sorted(_by_task(summaries).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        ours = next((s for s in group if (s.library, s.estimator) == OURS and s.seeds), None)
        others = [s for s in group if s.library != "miestim" and s.seeds]
        if ours is None or not others:
            continue
        total += 1
        best = min(others, key=lambda s: s.mean_abs_error)
        if best.mean_abs_error + margin < ours.mean_abs_error:
            rest = [s for s in others if s.estimator != "cca"]
            second = min(rest, key=lambda s: s.mean_abs_error) if rest else None
            other = (
                f"{second.name} {second.mean_error:+.3f}" + (" (miestim ahead)" if second.mean_abs_error > ours.mean_abs_error else "")
                if second is not None
                else ""
            )
            seconds = f"{ours.mean_seconds:.1f} / {best.mean_seconds:.1f}"
            lines.append([task, f"{n:,}", f"{ours.truth:.3f}", f"{ours.mean_error:+.3f}", best.name, f"{best.mean_error:+.3f}", seconds, other])
        elif ours.mean_abs_error <= best.mean_abs_error:
            ahead_count += 1
    return lines, ahead_count, total


def grid_table(summaries: list[Summary], kind: str = "mi") -> list[str]:
    groups = {k: v for k, v in _by_task(summaries).items() if v[0].kind == kind and k[0] not in BEYOND_KEYS and v[0].transform != GAPS}
    names = sorted(
        {(s.library, s.estimator) for v in groups.values() for s in v if (s.library, s.estimator) in GRID or kind == "cmi"},
        key=lambda le: (le != OURS and le[0] != "miestim", le),
    )
    if not names:
        return []
    lines = []
    order = {t: i for i, t in enumerate(TRANSFORMS)}
    for (task, n), group in sorted(
        groups.items(), key=lambda kv: (kv[0][1], order.get(kv[1][0].transform, 9), kv[1][0].dim, kv[1][0].truth, kv[0][0])
    ):
        cells, index = [], {(s.library, s.estimator): s for s in group}
        for le in names:
            s = index.get(le)
            cells.append("" if s is None else "failed" if s.seeds == 0 else f"{s.mean_error:+.3f} ({s.mean_seconds:.1f} s)")
        done = [s for s in group if s.seeds]
        best = min(done, key=lambda s: s.mean_abs_error).name if done else ""
        lines.append([task, f"{n:,}", f"{group[0].truth:.3f}", *cells, best])
    return markdown_table(["task", "n", "truth", *(label(*le) for le in names), "most accurate (of all run)"], lines).splitlines()


def mean_abs_by_family(summaries: list[Summary]) -> list[str]:
    """Mean |error| over the MI values of each (transform, d, n), per grid estimator: where each one is strong."""
    grid = [s for s in summaries if s.kind == "mi" and s.seeds and (s.library, s.estimator) in GRID and s.transform in TRANSFORMS]
    names = sorted({(s.library, s.estimator) for s in grid}, key=lambda le: (le != OURS, le))
    cells: dict[tuple, list[float]] = defaultdict(list)
    for s in grid:
        cells[(s.transform, s.dim, s.n, s.library, s.estimator)].append(s.mean_abs_error)
    keys = sorted({(s.transform, s.dim, s.n) for s in grid}, key=lambda k: (k[2], TRANSFORMS.index(k[0]) if k[0] in TRANSFORMS else 9, k[1]))
    lines = []
    for t, d, n in keys:
        vals = {le: cells.get((t, d, n) + le) for le in names}
        present = [(sum(v) / len(v), le) for le, v in vals.items() if v]
        best = min(present)[1] if present else None
        row = []
        for le in names:
            v = vals[le]
            text = "" if not v else f"{sum(v) / len(v):.3f} ({len(v)})"
            row.append(f"**{text}**" if le == best and text else text)
        lines.append([t, d, f"{n:,}", *row])
    return markdown_table(["transform", "d", "n", *(label(*le) for le in names)], lines).splitlines()


def markdown(summaries: list[Summary], skipped: dict[str, str], core: Iterable[tuple] = CORE) -> str:
    core = list(core)
    core_keys = {f"d{d}-mi{mi:g}-{t}" for d, mi, t in core}
    parts: list[str] = []
    if skipped:
        parts += ["Skipped (environment missing or broken; `python -m benchmarks compare-setup` makes them):", ""]
        parts += [f"- {name}: {why}" for name, why in skipped.items()] + [""]
    groups = _by_task(summaries)
    targets = check_targets(summaries)
    if targets and any(task == key for task, _ in TARGETS for key, _ in groups):
        parts += ["## Targets", "", "```", *targets, "```", ""]
    order = [f"d{d}-mi{mi:g}-{t}" for d, mi, t in core]
    core_groups = sorted(((k, v) for k, v in groups.items() if k[0] in core_keys and len(v) > 3), key=lambda kv: (order.index(kv[0][0]), kv[0][1]))
    if core_groups:
        parts += [
            "## Every estimator on the core tasks",
            "",
            ("Sorted by mean |error| over the seeds; *seconds* is the wall time of one estimate (mean). The default miestim estimator is in bold."),
            "",
        ]
        for (task, n), group in core_groups:
            parts += [f"### {task}, n = {n:,} (true MI {group[0].truth:g} nats)", "", *detailed_table(group), ""]
    beyond = sorted(
        ((k, v) for k, v in groups.items() if k[0] in BEYOND_KEYS and v[0].transform != GAPS), key=lambda kv: (BEYOND_KEYS.index(kv[0][0]), kv[0][1])
    )
    if beyond:
        intro = (
            "Issue 17's tasks from `miestim.tasks`: a Student-t with identity dispersion (uncorrelated but dependent), "
            "a spiral on the x side of a Gaussian with two pairs of 0.8, X ~ U(0,1) with Y = X + U(-0.2, 0.2), and a "
            "20x20 Gaussian with three pairs of 0.8 (a Gaussian copula, so the plug-in is the reference there). "
            "Sorted by mean |error|; *seconds* is the wall time of one estimate (mean)."
        )
        parts += ["## Beyond Gaussians", "", intro, ""]
        checks = check_beyond(summaries)
        if checks:
            parts += ["```", *checks, "```", ""]
        for (task, n), group in beyond:
            parts += [f"### {task}, n = {n:,} (true MI {group[0].truth:.4f} nats)", "", *detailed_table(group), ""]
    parts += gap_section(summaries)
    copula = check_copula_tasks(summaries)
    if copula:
        parts += ["## Against the Gaussian plug-in on Gaussian-copula tasks", "", "```", *copula, "```", ""]
    lines, ahead, total = behind(summaries)
    if total:
        parts += [
            "## Where miestim is ahead or behind",
            "",
            (
                f"The default miestim estimator has the lowest mean |error| of all the other libraries' estimators run on **{ahead} of {total}** "
                f"task × n combinations. It is behind by more than {MARGIN} nats on {len(lines)}:"
            ),
            "",
        ]
        if lines:
            head = ["task", "n", "truth", "miestim error", "most accurate", "its error", "seconds (miestim / it)", "most accurate except CCA"]
            parts += [markdown_table(head, lines), ""]
        else:
            parts[-2] = parts[-2].rstrip(":") + "."
        family = mean_abs_by_family(summaries)
        if len(family) > 2:
            parts += ["Mean |error| over the MI values of each family (number of MI values in brackets; best in bold):", "", *family, ""]
    grid = grid_table(summaries, "mi")
    if grid:
        parts += ["## All MI tasks", "", "Mean error over the seeds (mean seconds per estimate).", "", *grid, ""]
    cmi = grid_table(summaries, "cmi")
    if cmi:
        parts += [
            "## Conditional MI",
            "",
            (
                "miestim auto: `estimate_cmi`'s default, the chain rule I(X;Y|Z) = I(X;Y,Z) − I(X;Z) with both MIs cross-fitted "
                'on the same folds; miestim cmine: `method="cmine"` (k-NN product sampling, held-out test split). bmi and the '
                "plug-in: the same chain rule with their estimator on all rows."
            ),
            "",
            *cmi,
            "",
        ]
    return "\n".join(parts)


def plot_grid(summaries: list[Summary], path: str) -> bool:
    """Estimate against truth for the grid estimators, one panel per (transform, d), at the largest n."""
    grid = [s for s in summaries if s.kind == "mi" and s.seeds and (s.library, s.estimator) in GRID and s.transform in TRANSFORMS]
    if not grid:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(s.n for s in grid)
    grid = [s for s in grid if s.n == n]
    transforms = [t for t in TRANSFORMS if any(s.transform == t for s in grid)]
    dims = sorted({s.dim for s in grid})
    names = sorted({(s.library, s.estimator) for s in grid}, key=lambda le: (le != OURS, le))
    fig, axes = plt.subplots(len(transforms), len(dims), figsize=(3.6 * len(dims), 3.0 * len(transforms)), squeeze=False, sharex=True)
    for i, t in enumerate(transforms):
        for j, d in enumerate(dims):
            ax = axes[i][j]
            pts = [s for s in grid if s.transform == t and s.dim == d]
            top = max([s.truth for s in pts] + [1.0])
            ax.plot([0, top], [0, top], color="black", lw=0.8, ls="--")
            for k, le in enumerate(names):
                sel = sorted((s for s in pts if (s.library, s.estimator) == le), key=lambda s: s.truth)
                if sel:
                    ax.plot(
                        [s.truth for s in sel],
                        [s.mean_estimate for s in sel],
                        marker="o",
                        ms=3,
                        lw=1.2 if le == OURS else 0.9,
                        label=label(*le),
                        color=f"C{k}",
                    )
            ax.set_title(f"{t}, d={d}", fontsize=9)
            if i == len(transforms) - 1:
                ax.set_xlabel("true MI (nats)")
            if j == 0:
                ax.set_ylabel("estimate (nats)")
    handles = {lab: h for ax in axes.flat for h, lab in zip(*ax.get_legend_handles_labels())}
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(f"estimate vs truth, n = {n:,}", fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_core(summaries: list[Summary], path: str, core: Iterable[tuple] = CORE) -> bool:
    """Mean |error| (bars, seed sd as whiskers) and seconds of every estimator on each core task."""
    core_keys = {f"d{d}-mi{mi:g}-{t}" for d, mi, t in core}
    groups = [(k, v) for k, v in sorted(_by_task(summaries).items()) if k[0] in core_keys and len(v) > 3]
    if not groups:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"miestim": "tab:blue", "torch-mist": "tab:orange", "bmi": "tab:green", "sklearn": "tab:red"}
    fig, axes = plt.subplots(1, len(groups), figsize=(6.0 * len(groups), 0.32 * max(len(v) for _, v in groups) + 1.4), squeeze=False)
    for ax, ((task, n), group) in zip(axes[0], groups):
        done = sorted((s for s in group if s.seeds), key=lambda s: -s.mean_abs_error)
        ys = range(len(done))
        ax.barh(
            list(ys),
            [s.mean_abs_error for s in done],
            xerr=[0 if math.isnan(s.sd_error) else s.sd_error for s in done],
            color=[colors.get(s.library, "gray") for s in done],
        )
        ax.set_yticks(list(ys), [f"{s.name}  ({s.mean_seconds:.0f} s)" for s in done], fontsize=7)
        ax.set_xlabel("mean |error| (nats)")
        ax.set_title(f"{task}, n = {n:,}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
