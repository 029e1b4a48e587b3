"""Accuracy and speed against ground truth, side by side with torch-mist, bmi, frites, latentmi and k-NN estimators.

    python -m benchmarks compare-setup                 # once: torch-mist's, bmi's, frites' and latentmi's own environments
    python -m benchmarks compare                       # everything; writes docs/benchmarks/{compare,staircase,speed}.*
    python -m benchmarks compare --quick --out runs/q  # smoke run: tiny n, few steps (under 2 minutes)
    python -m benchmarks compare --only compare --match d5-mi2-plain --n 10000 --seeds 0   # one slice
    python -m benchmarks compare --dry-run             # the plan and its estimated time, nothing run
    python -m benchmarks compare --tasks beyond-gaussian --only compare   # only issue 17's beyond-Gaussian tasks, seeds 0-4
    python -m benchmarks compare --tasks beyond-gaussian --only compare --libraries sklearn plug-in torch-mist bmi   # their external rows
    python -m benchmarks compare --tasks gaps --only compare --threads 1   # issue 30's tasks, seeds 0-4: compare_gaps.{md,json}

Sections (``--only``): *compare* — every library on the same samples of Gaussian tasks with
known MI/CMI (the default miestim estimator, bmi's KSG and CCA and scikit-learn's KSG on the
whole grid d x MI x transform x n for ``--grid-seeds``; every neural estimator of every library
on the core tasks for ``--seeds``; on the beyond-Gaussian tasks of ``miestim.tasks`` — Student-t,
spiral, additive uniform, sparse 20x20 Gaussian — the default miestim estimator, the
Gaussian-copula plug-in and every estimator of the other libraries, for ``--beyond-seeds``; on
issue 30's tasks of ``benchmarks.auto`` — the default miestim estimator, the plug-in, bmi's CCA and
KSG, frites' bias-corrected Gaussian-copula MI and latentmi (epochs capped), for ``--gap-seeds``);
*staircase* — Poole et al.'s rising-MI trace per bound;
*speed* — training steps per second per estimator and critic, seconds per estimate, and the
k-NN sampler against a per-batch refit. torch-mist, bmi, frites and latentmi run in their own
environments (``compare-setup``); a missing one is skipped with a message.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from miestim.validation import ValidationRow

from .._report import header, run_metadata, write_record
from . import report, runners, speed, staircase
from .runners import BMI_CHEAP, BMI_NEURAL, FRITES, LATENTMI, TORCH_MIST, Job, Plan
from .tasks import (
    BEYOND_KEYS,
    BEYOND_SEEDS,
    CMI,
    CORE,
    GAP_KEYS,
    GAP_SEEDS,
    SIZES,
    Task,
    beyond_tasks,
    cmi_task,
    gap_tasks,
    grid_tasks,
    mi_task,
    write_samples,
)

SECTIONS = ("compare", "staircase", "speed")
LIBRARIES = ("miestim", "plug-in", "sklearn", "frites", "torch-mist", "bmi", "latentmi")
#: ``--tasks``: which task families the compare section runs.
TASK_SETS = ("all", "gaussian", "beyond-gaussian", "gaps")
#: the page each ``--tasks`` writes: a run of one family never overwrites the full comparison.
PAGES = {"beyond-gaussian": "compare_beyond", "gaps": "compare_gaps"}
#: guessed staircase steps per second (batch 64, d=20, separable critic) on a quiet 2-core CPU; only for the ETA.
STAIRCASE_RATE = {"interpolated": 150.0}
STAIRCASE_DEFAULT_RATE = 450.0


def build_plan(
    *,
    grid: list[Task],
    core: list[Task],
    cmi: list[Task],
    sizes: Sequence[int],
    core_n: int,
    grid_seeds: Sequence[int],
    core_seeds: Sequence[int],
    libraries: Sequence[str],
    miestim_core: Sequence[str],
    torch_mist: Sequence[str],
    bmi_core: Sequence[str],
    match: str | None,
    directory: Path,
    beyond: Sequence[Task] = (),
    beyond_seeds: Sequence[int] = BEYOND_SEEDS,
    beyond_n: int | None = None,
    estimators: Sequence[str] | None = None,
    gaps: Sequence[Task] = (),
    gap_seeds: Sequence[int] = GAP_SEEDS,
    gap_n: int | None = None,
) -> Plan:
    """Which library runs which estimators on which (task, n, seed); samples written once to ``directory``.

    The beyond-Gaussian tasks run at their own n (``beyond_n`` overrides it) with every library's
    estimators, miestim's default only. Issue 30's tasks (``gaps``) run at their own n (``gap_n``
    overrides it) with miestim's default, the plug-in, bmi's CCA and KSG, frites and latentmi.
    ``estimators``, when given, keeps only those estimator names.
    """
    plan, pattern = Plan(), re.compile(match) if match else None

    def wanted(task: Task) -> bool:
        return pattern is None or bool(pattern.search(task.key))

    def add(library: str, task: Task, n: int, seed: int, names: Sequence[str]) -> None:
        names = [name for name in names if estimators is None or name in estimators]
        if library in libraries and names and wanted(task):
            plan.add(library, Job(task, n, seed, write_samples(task, n, seed, directory)), list(names))

    plugin = list(runners.baselines.ESTIMATORS)
    for task in core:
        for seed in core_seeds:
            add("miestim", task, core_n, seed, miestim_core)
            add("plug-in", task, core_n, seed, plugin)
            add("sklearn", task, core_n, seed, ["ksg"] if task.dim == 1 else [])
            add("torch-mist", task, core_n, seed, torch_mist)
            add("bmi", task, core_n, seed, bmi_core)
    for task in grid:
        for n in sizes:
            for seed in grid_seeds:
                add("miestim", task, n, seed, [runners.DEFAULTS["miestim"]])
                add("plug-in", task, n, seed, plugin)
                add("sklearn", task, n, seed, ["ksg"] if task.dim == 1 else [])
                add("bmi", task, n, seed, BMI_CHEAP)
    for task in cmi:
        for seed in grid_seeds:
            add("miestim", task, core_n, seed, [runners.DEFAULTS["miestim"], "cmine"])  # estimate_cmi's default: the chain rule
            add("plug-in", task, core_n, seed, plugin)
            add("bmi", task, core_n, seed, BMI_CHEAP)
    for task in beyond:
        n = beyond_n or task.n or core_n
        for seed in beyond_seeds:
            add("miestim", task, n, seed, [runners.DEFAULTS["miestim"], "smile"])
            add("plug-in", task, n, seed, plugin)
            add("sklearn", task, n, seed, ["ksg"] if task.dim == 1 and task.sampler.dim_y == 1 else [])
            add("torch-mist", task, n, seed, torch_mist)
            add("bmi", task, n, seed, [*BMI_CHEAP, *(name for name in bmi_core if name not in BMI_CHEAP)])
    gap_lists = {"miestim": [runners.DEFAULTS["miestim"]], "plug-in": plugin, "bmi": BMI_CHEAP, "frites": FRITES, "latentmi": LATENTMI}
    for task in gaps:
        n = gap_n or task.n or core_n
        for seed in gap_seeds:
            for library, names in gap_lists.items():
                add(library, task, n, seed, names)
    # Run order: libraries in LIBRARIES order, so the cheap in-process ones report first.
    plan.work = {lib: plan.work[lib] for lib in LIBRARIES if lib in plan.work}
    return plan


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count()}


def _write(out: Path, name: str, title: str, meta: dict[str, Any], body: str, record: dict[str, Any]) -> None:
    command = meta["command"].strip()
    (out / f"{name}.md").write_text(f"# {title}\n\n{header(meta)}\nCommand: `{command}`\n\n{body.rstrip()}\n", encoding="utf-8")
    write_record(out / f"{name}.json", meta, **record)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run (default all)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds of the core tasks (default 0 1 2)")
    p.add_argument("--grid-seeds", nargs="+", type=int, default=[0], help="seeds of the full grid and the CMI tasks (default 0)")
    p.add_argument(
        "--n", nargs="+", type=int, default=list(SIZES), help="sample sizes of the grid (default 1000 10000; the core tasks use the largest)"
    )
    p.add_argument("--match", help="regular expression: only tasks whose key matches (e.g. 'd5-mi2-plain', 'cube', 'chain', 'spiral')")
    p.add_argument(
        "--tasks",
        choices=TASK_SETS,
        default="all",
        help=(
            f"task families: the Gaussian grid, core and CMI tasks; issue 17's beyond-Gaussian tasks ({', '.join(BEYOND_KEYS)}); "
            "issue 30's tasks (gaps, from benchmarks.auto); or all (default)"
        ),
    )
    p.add_argument("--beyond-seeds", nargs="+", type=int, default=list(BEYOND_SEEDS), help="seeds of the beyond-Gaussian tasks (default 0-4)")
    p.add_argument("--gap-seeds", nargs="+", type=int, default=list(GAP_SEEDS), help="seeds of issue 30's tasks (default 0-4)")
    p.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(LIBRARIES))
    p.add_argument("--estimators", nargs="+", help="only these estimator names, in every library (e.g. 'mine ksg cca gaussian-copula')")
    p.add_argument("--staircase-steps", type=int, default=4_000, help="steps per level of the staircase (default 4,000)")
    p.add_argument("--speed-budget", type=float, default=1.5, help="seconds timed per estimator and critic (default 1.5)")
    p.add_argument("--quick", action="store_true", help="smoke run: n=1,000, 60 training steps, few estimators; checks only that the pipeline runs")
    p.add_argument("--dry-run", action="store_true", help="print the plan and its estimated time, run nothing")
    p.add_argument("--render", action="store_true", help="rewrite compare.md and its plots from the compare.json in --out, run nothing")
    p.add_argument("--out", help="directory for the .md, .json and .png files (default docs/benchmarks; runs/compare-quick with --quick)")
    p.add_argument("--json", help="also write every section's records to this one file")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=torch.get_num_threads(), help="threads for every library (default: torch's, here %(default)s)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    previous = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _run(args, argv)
    finally:
        torch.set_num_threads(previous)


def _settings(args: argparse.Namespace) -> SimpleNamespace:
    """The tasks, seeds, sizes and estimator lists of a run: the quick check's tiny ones or the full comparison's."""
    if args.quick:
        grid, core, cmi = [mi_task(1, 1.0, "cube"), mi_task(5, 2.0)], [mi_task(5, 2.0)], [cmi_task(1, t) for t in ("x;y|z", "x;z|y")]
        beyond, beyond_seeds, beyond_n = beyond_tasks(["additive-uniform-eps0.2"]), [0], 1_000
        gap_keys, gap_seeds, gap_n = ["additive-uniform-eps0.1"], [0], 1_000
        sizes, core_n, grid_seeds, core_seeds, max_steps = [1_000], 1_000, [0], [0], 60
        lists = {"miestim_core": ["auto", "smile"], "torch_mist": ["smile"], "bmi_core": ["infonce", *BMI_CHEAP]}
        steps_per_level, speed_budget, speed_batch, speed_estimators = 20, 0.0, 64, ["smile", "infonce"]
    else:
        grid, core, cmi = grid_tasks(), [mi_task(d, mi, t) for d, mi, t in CORE], [cmi_task(d, t) for d, t in CMI]
        beyond, beyond_seeds, beyond_n = beyond_tasks(), args.beyond_seeds, None
        # --match picks issue 30's tasks before their truths are computed (the scale mixture's takes seconds).
        gap_keys, gap_seeds, gap_n = [k for k in GAP_KEYS if not args.match or re.search(args.match, k)], args.gap_seeds, None
        sizes, core_n, grid_seeds, core_seeds, max_steps = args.n, max(args.n), args.grid_seeds, args.seeds, None
        import miestim

        lists = {"miestim_core": ["auto", *sorted(miestim.ESTIMATORS)], "torch_mist": list(TORCH_MIST), "bmi_core": [*BMI_NEURAL, *BMI_CHEAP]}
        steps_per_level, speed_budget, speed_batch, speed_estimators = args.staircase_steps, args.speed_budget, 256, None
    if args.tasks in ("beyond-gaussian", "gaps"):
        grid, core, cmi = [], [], []
    if args.tasks in ("gaussian", "gaps"):
        beyond = []
    gaps = gap_tasks(gap_keys) if args.tasks in ("all", "gaps") else []  # only when run: their truths take seconds
    return SimpleNamespace(
        grid=grid,
        core=core,
        cmi=cmi,
        beyond=beyond,
        beyond_seeds=beyond_seeds,
        beyond_n=beyond_n,
        gaps=gaps,
        gap_seeds=gap_seeds,
        gap_n=gap_n,
        sizes=sizes,
        core_n=core_n,
        grid_seeds=grid_seeds,
        core_seeds=core_seeds,
        max_steps=max_steps,
        lists=lists,
        steps_per_level=steps_per_level,
        speed_budget=speed_budget,
        speed_batch=speed_batch,
        speed_estimators=speed_estimators,
    )


def _plan(args: argparse.Namespace, st: SimpleNamespace, directory: Path) -> Plan:
    """The compare section's plan for this run's settings; samples written to ``directory``."""
    return build_plan(
        grid=st.grid,
        core=st.core,
        cmi=st.cmi,
        sizes=st.sizes,
        core_n=st.core_n,
        grid_seeds=st.grid_seeds,
        core_seeds=st.core_seeds,
        libraries=args.libraries,
        match=args.match,
        directory=directory,
        beyond=st.beyond,
        beyond_seeds=st.beyond_seeds,
        beyond_n=st.beyond_n,
        gaps=st.gaps,
        gap_seeds=st.gap_seeds,
        gap_n=st.gap_n,
        estimators=args.estimators,
        **st.lists,
    )


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    out = Path(args.out or ("runs/compare-quick" if args.quick else "docs/benchmarks"))
    st = _settings(args)
    meta = run_metadata(
        "compare",
        argv,
        device=args.device,
        seed=st.core_seeds[0],
        **_machine(),
        estimator="each row names its library and estimator; miestim's default is estimate_mi(estimator='auto')",
        core_seeds=st.core_seeds,
        grid_seeds=st.grid_seeds,
        beyond_seeds=st.beyond_seeds,
        gap_seeds=st.gap_seeds,
        tasks=args.tasks,
        quick=args.quick,
    )
    out.mkdir(parents=True, exist_ok=True)
    page = PAGES.get(args.tasks, "compare")
    if args.render:
        stored = json.loads((out / f"{page}.json").read_text())
        write_compare(out, stored["meta"], [runners.from_record(r) for r in stored["rows"]], stored["skipped"], st.core, name=page)
        return 0
    combined: dict[str, Any] = {"meta": meta}

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="compare-samples-") as tmp:
        plan = _plan(args, st, Path(tmp)) if "compare" in args.only else Plan()
        progress = runners.Progress(plan)
        stair_eta = (
            sum(len(staircase.LEVELS) * st.steps_per_level / STAIRCASE_RATE.get(name, STAIRCASE_DEFAULT_RATE) for _, name, _ in staircase.BOUNDS)
            if "staircase" in args.only
            else 0.0
        )
        speed_eta = (3 * 8 * (st.speed_budget + 0.3) + 15) if "speed" in args.only else 0.0
        log(
            f"plan: {plan.count()} estimates ({', '.join(f'{lib} {sum(len(n) for _, n in e)}' for lib, e in plan.work.items())}); "
            f"estimated on a quiet 2-core CPU: compare {progress.expected_total / 60:.1f} min, staircase {stair_eta / 60:.1f} min, "
            f"speed {speed_eta / 60:.1f} min, total {(progress.expected_total + stair_eta + speed_eta) / 60:.1f} min"
        )
        if args.dry_run:
            for lib, entries in plan.work.items():
                for job, names in entries:
                    log(f"  {lib:>10} {job.id}: {', '.join(names)}")
            return 0
        start = time.perf_counter()
        compare_rows: list[ValidationRow] = []
        if "compare" in args.only:
            compare_rows, skipped = runners.execute(plan, max_steps=st.max_steps, device=args.device, threads=args.threads, progress=progress)
            combined["compare"] = write_compare(out, meta, compare_rows, skipped, st.core, name=page)
        if "staircase" in args.only:
            combined["staircase"] = _staircase_part(out, meta, st.steps_per_level, seed=st.core_seeds[0], device=args.device, log=log)
        if "speed" in args.only:
            combined["speed"] = _speed_part(args, out, meta, compare_rows, st, log=log)
        log(f"done in {(time.perf_counter() - start) / 60:.1f} min; wrote {out}/")
    if args.json:
        Path(args.json).write_text(json.dumps(combined, indent=1, default=float), encoding="utf-8")
    return 0


def _staircase_part(out: Path, meta: dict[str, Any], steps_per_level: int, *, seed: int, device: str, log: Callable[[str], None]) -> dict[str, Any]:
    """The staircase of the named bounds: staircase.png, its page and record; prints the page."""
    traces = staircase.run(steps_per_level=steps_per_level, seed=seed, device=device, log=log)
    staircase.plot(traces, str(out / "staircase.png"), batch=64)
    record = {"steps_per_level": steps_per_level, "bounds": staircase.record(traces, steps_per_level)}
    body = staircase.__doc__.split("\n\n", 1)[1] + "\n![the staircase](staircase.png)\n\n" + staircase.markdown(record["bounds"])
    _write(out, "staircase", "The staircase of Poole et al. (2019)", meta, body, record)
    print(body)
    return record


def _speed_part(
    args: argparse.Namespace, out: Path, meta: dict[str, Any], compare_rows: list[ValidationRow], st: SimpleNamespace, *, log: Callable[[str], None]
) -> dict[str, Any]:
    """Training speed, per-estimate seconds (from this run's rows, or the stored compare.json) and the sampler."""
    if not compare_rows and (out / "compare.json").exists():
        compare_rows = [runners.from_record(r) for r in json.loads((out / "compare.json").read_text())["rows"]]
    training = speed.run_training(
        dim=20,
        batch=st.speed_batch,
        budget_s=st.speed_budget,
        device=args.device,
        log=log,
        estimators=st.speed_estimators,
        min_steps=2 if args.quick else 5,
    )
    sampler = speed.run_sampler(quick=args.quick, device=args.device)
    estimates = speed.per_estimate(compare_rows)
    body = speed.markdown(training, estimates, sampler)
    record = {"training": training, "per_estimate": estimates, "sampler": sampler}
    _write(out, "speed", "Speed", meta, body, record)
    print(body)
    return record


def write_compare(
    out: Path, meta: dict[str, Any], rows: list[ValidationRow], skipped: dict[str, str], core: list[Task], name: str = "compare"
) -> dict[str, Any]:
    """{name}.md (protocol, plots, tables), {name}.json and the PNGs from the rows; prints the page and returns the record."""
    summaries = report.summarize(rows)
    core_specs = [(t.dim, t.truth, t.transform) for t in core]
    pngs = []
    if report.plot_core(summaries, str(out / f"{name}_core.png"), core=core_specs):
        pngs.append(f"![every estimator on the core tasks]({name}_core.png)")
    if report.plot_grid(summaries, str(out / f"{name}_grid.png")):
        pngs.append(f"![estimate against truth on the grid]({name}_grid.png)")
    text = protocol_notes() + "\n\n" + "\n\n".join(pngs) + "\n\n" + report.markdown(summaries, skipped, core=core_specs)
    record = {
        "rows": [runners.to_record(r) for r in rows],
        "skipped": skipped,
        "targets": report.check_targets(summaries),
        "beyond": report.check_beyond(summaries),
        "copula": report.check_copula_tasks(summaries),
        "gaps": report.check_gaps(summaries),
        "gap_table": report.gap_record(summaries),
    }
    _write(out, name, "Side by side: miestim, torch-mist, bmi, frites, latentmi and k-NN against ground truth", meta, text, record)
    print(text)
    return record


def protocol_notes() -> str:
    return """Every library gets the same samples (one draw per task, n and seed). How each one trains and
what it scores:

| library | estimators | trains on | estimate scored on |
|---|---|---|---|
| miestim (default) | `estimate_mi(x, y)`: `estimator="auto"`, critic families chosen on validation, 3-fold cross-fit | per fold, 58% of the rows (8% more for the choice and early stopping) | every row once, by the critic of the fold that held it out; when every fold keeps the Gaussian copula, every row in-sample, less the fit's analytic bias (Ince et al. 2017); when every fold keeps the k-NN critic, every row leave-one-out |
| miestim (named) | `estimate_mi(x, y, estimator=...)` defaults (SMILE τ=5, InfoNCE, ...; separable critic) | 70% (10% more for early stopping) | the held-out 20% test split |
| torch-mist 0.2.17 | `estimate_mi(train, estimator=..., test_data=test)` defaults (SMILE by default, joint critic [128], batch 128, ≤ 5,000 iterations) | the first 80% of the rows (10% of it for early stopping) | the last 20% (its `test_data`); without `test_data` torch-mist scores the rows it trained on — that number is in brackets |
| bmi 0.1.3 | InfoNCE, NWJ, DV, MINE defaults (MLP 16-8, lr 0.1, batch 256, ≤ 10,000 steps) | a random 50%, after standardising on all rows | the *largest* of its estimates on the other 50% taken every 250 steps (that half also stops training) |
| bmi 0.1.3 | KSG (k=5), CCA | all rows | all rows |
| scikit-learn | `mutual_info_regression` (KSG, k=3), only where X and Y are 1-d | all rows | all rows |
| plug-in | the Gaussian-copula plug-in: the Gaussian MI of the correlation of each column's normal scores (`benchmarks/compare/baselines.py`) | all rows | all rows |

Seconds are the wall time of the estimate alone (the workers' interpreter start and imports are not counted)."""
