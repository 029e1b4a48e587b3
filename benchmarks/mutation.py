"""Mutation score of the modules where components join: how many one-token changes of the code fail a test.

    python -m benchmarks mutation --json docs/benchmarks/mutation.json            # every module of MODULES
    python -m benchmarks mutation --modules miestim/functional/ --max-children 2  # a subset
    python -m benchmarks mutation --modules miestim/cmine.py --json docs/benchmarks/mutation.json  # kept beside the other modules' rows
    python -m benchmarks mutation --modules miestim/cmine.py --sample 0.4 --keep      # every mutant numbered ...0 to ...3
    python -m benchmarks mutation --modules miestim/cmine.py --rerun SCRATCH --json ...  # after new tests: the unkilled again

mutmut (extra ``mutation``) rewrites each function of :data:`MODULES` many times, one change each (an operator, a
constant, a keyword argument, a returned value), and runs the module's tests of :data:`MODULES` that reach the
function on each version. A mutant is *killed* when a test fails and *survives* when all pass; a survivor is either a gap in the tests
or an *equivalent* mutant (a change that cannot alter behaviour, e.g. ``float("-inf")`` spelt ``float("-INF")``), listed
with the reason in ``benchmarks/mutation_equivalent.json``. The record holds the counts per module and every survivor's diff.

The run happens in a scratch copy of the repository (mutmut writes its ``mutants/`` tree beside the code), never in
the working tree. It is not part of the test suite: on 2 cores the whole of :data:`MODULES` takes hours.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ._report import markdown_table, run_metadata, write_record

ROOT = Path(__file__).resolve().parents[1]

#: Tests of the one-call results as a whole: bit-identical golden values (a change that moves a number by any amount
#: fails them, also one that leaves it statistically sound, e.g. a seed dropped) and the two-process runs (the
#: branches only a ``torch.distributed`` run takes). mutmut runs a test against a mutant only where the test reaches
#: the mutated function, so these cost time only for the mutants that the faster tests leave alive.
_WHOLE = ("tests/test_golden.py", "tests/test_stderr_calibration.py", "tests/distributed")
_CROSSFIT = ("tests/crossfit", "tests/test_option_effects.py", *_WHOLE)
_EXAMPLE = ("tests/example/test_training_loop.py", "tests/example/test_train.py", "tests/example/test_published.py", "tests/example/test_progress.py")

#: The modules mutated (files, or folders ending in "/"), each with the tests run against its mutants: the bounds, the
#: estimator modules, the cross-fitting race, the chain rule, CMINE, and the sentiment example's loss and batching code.
MODULES: dict[str, tuple[str, ...]] = {
    "miestim/functional/": ("tests/functional", "tests/estimators", "tests/test_estimators.py"),
    "miestim/estimators/": ("tests/estimators", "tests/test_estimators.py", "tests/functional", "tests/test_option_effects.py"),
    "miestim/crossfit/": (*_CROSSFIT, "tests/critics/test_knn.py"),
    "miestim/heldout.py": (*_CROSSFIT, "tests/test_training.py"),
    "miestim/chain_rule.py": ("tests/entry/test_cmi.py", "tests/entry/test_decomposition_closed_form.py", *_WHOLE),
    "miestim/cmine.py": ("tests/test_cmine.py", "tests/test_cmine_correction.py", "tests/test_option_effects.py"),
    "miestim/cmine_fit.py": ("tests/test_cmine_correction.py", "tests/entry/test_cmi.py", "tests/test_option_effects.py", *_WHOLE),
    "examples/sentiment/train.py": (*_EXAMPLE, "tests/distributed"),
    "examples/sentiment/prepare.py": (*_EXAMPLE, "tests/example/test_prepare.py"),
    "examples/sentiment/mi_terms.py": (*_EXAMPLE, "tests/example/test_model.py"),
}

#: Modules mutated in part: only these functions (``Class.method`` or ``function``). The training loop's loss and batching
#: code is mutated; its checkpoints, plots and log files are not (they are the example's bookkeeping, not its method).
FUNCTIONS: dict[str, tuple[str, ...]] = {
    "examples/sentiment/train.py": (
        "Trainer._batches",
        "Trainer.features",
        "Trainer._stage1",
        "Trainer._stage2",
        "_check_shares",
        "_keep_rows",
        "_gather_kept",
        "_check_finite",
    ),
}

#: Survivors reviewed as unable to change behaviour: ``{mutant name: reason}`` (mutmut's names, stable while the
#: function's source is unchanged; a survivor not listed here counts against the score).
EQUIVALENT_FILE = ROOT / "benchmarks" / "mutation_equivalent.json"

#: mutmut's exit codes per mutant: 1 killed (a test failed), 0 survived, 33 no test reached it, 34 skipped,
#: 36 timed out, 24/-24 timed out (killed by the watchdog), 37 a segfault or other crash of the test process.
STATUS = {1: "killed", 0: "survived", 33: "no tests", 34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout", 37: "crashed", None: "not run"}
#: The statuses of a mutant that no test kills.
UNKILLED = ("survived", "no tests")


def _config(modules: tuple[str, ...]) -> str:
    """The ``[mutmut]`` section of a scratch ``setup.cfg``: what to mutate, which tests, one thread per test process."""
    sources = sorted({module.split("/")[0] + "/" for module in MODULES})  # both trees, whichever is mutated: the tests import both
    only = [module + "*" if module.endswith("/") else module for module in modules]
    lines = ["[mutmut]", "source_paths=", *(f"    {s}" for s in sources), "only_mutate="]
    tests = sorted({test for module in modules for test in MODULES[module]})
    lines += [f"    {o}" for o in only] + ["pytest_add_cli_args_test_selection="] + [f"    {t}" for t in tests]
    lines += ["also_copy=", "    docs"]  # tests read docs/ pages (the user-defined family of docs/estimators.md runs)
    lines += ["pytest_add_cli_args=", "    -p", "    no:xdist", "    -p", "    no:cacheprovider", "    -x", "    -q"]
    # A generous watchdog: a test process that shares the 2 cores with another one runs up to 5 times slower than alone.
    lines += ["process_isolation=forkserver", "use_git_change_detection=false", "timeout_multiplier=20.0", "timeout_constant=60.0"]
    return "\n".join(lines) + "\n"


def _patterns(modules: tuple[str, ...], sample: float = 1.0) -> list[str]:
    """mutmut's patterns of the mutant names to run: every function of a module, or those of :data:`FUNCTIONS`.

    ``sample`` below 1 keeps the mutants whose number ends in one of the first ``10 * sample`` digits: a sample of
    every function alike, the same one in every run, and each larger sample a superset of the smaller.
    """
    digits = "0123456789"[: round(10 * sample)]
    number = "*" if len(digits) == 10 else f"*[{digits}]"
    patterns = []
    for module in modules:
        dotted = module.removesuffix(".py").rstrip("/").replace("/", ".")
        if module not in FUNCTIONS:
            patterns.append(f"{dotted}.*__mutmut_{number}")
            continue
        for function in FUNCTIONS[module]:
            owner, _, name = function.rpartition(".")
            # mutmut names a method's mutants x<sep>Class<sep>method__mutmut_N and a function's x_function__mutmut_N.
            patterns.append(f"{dotted}.x\u01c1{owner}\u01c1{name}__mutmut_{number}" if owner else f"{dotted}.x_{name}__mutmut_{number}")
    return patterns


def _scratch_copy(modules: tuple[str, ...]) -> Path:
    """A copy of the package, the example, the tests, the docs and pyproject.toml, with the mutmut configuration beside them."""
    work = Path(tempfile.mkdtemp(prefix="miestim-mutation-"))
    for name in ("miestim", "examples", "tests", "docs"):
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "data_cache", "runs"))
    shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
    (work / "setup.cfg").write_text(_config(modules))
    return work


def _refresh(work: Path, modules: tuple[str, ...]) -> None:
    """Copy the working tree's tests and docs into a kept scratch copy, with the configuration of ``modules``."""
    for name in ("tests", "docs"):
        shutil.rmtree(work / name, ignore_errors=True)
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (work / "setup.cfg").write_text(_config(modules))


def _mutmut(work: Path, max_children: int, names: list[str]) -> None:
    """``mutmut run`` in ``work`` on the mutants named (patterns allowed), one torch thread per test process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTEST_XDIST_WORKER_COUNT": "2"}
    subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *names], cwd=work, env=env, check=False)


def _read_results(work: Path, modules: tuple[str, ...], sample: float, *, diffs: bool = True) -> list[dict[str, Any]]:
    """One row per mutant of ``modules`` in scope: its name, source file, status, and for survivors the diff ``mutmut show`` prints."""
    equivalent = json.loads(EQUIVALENT_FILE.read_text()) if EQUIVALENT_FILE.exists() else {}
    patterns = _patterns(modules, sample)
    rows = []
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        source = str(meta.relative_to(work / "mutants"))[: -len(".meta")]
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
                rows.append({"mutant": name, "file": source, "status": STATUS.get(code, f"exit {code}")})
    for row in rows if diffs else []:
        if row["status"] in UNKILLED:
            shown = subprocess.run([sys.executable, "-m", "mutmut", "show", row["mutant"]], cwd=work, capture_output=True, text=True, check=False)
            row["diff"] = shown.stdout.strip()
            row["equivalent"] = equivalent.get(row["mutant"])
    return rows


def _in_module(path: str, module: str) -> bool:
    """Whether the source file ``path`` is the module of :data:`MODULES` (a file) or lies in it (a folder)."""
    return path == module or (module.endswith("/") and path.startswith(module))


def _summary(rows: list[dict[str, Any]], modules: tuple[str, ...], sample: float = 1.0) -> list[dict[str, Any]]:
    """Counts per module, and the share of non-equivalent unkilled mutants among those run.

    A mutant no test reaches survives as surely as one the tests run and pass, so both count against the score.
    """
    table = []
    for module in modules:
        mine = [r for r in rows if _in_module(r["file"], module)]
        counts = Counter(r["status"] for r in mine)
        equivalent = sum(1 for r in mine if r["status"] in UNKILLED and r.get("equivalent"))
        run = len(mine) - counts["not run"] - counts["skipped"]
        gaps = sum(counts[status] for status in UNKILLED) - equivalent
        table.append(
            {"module": module, "sample": sample, "mutants": len(mine), **{k: counts[k] for k in sorted(set(STATUS.values()))}}
            | {"equivalent": equivalent, "survival": gaps / run if run else None}
        )
    return table


COUNTED = ("sample", "mutants", "killed", "survived", "equivalent", "no tests", "timeout", "not run")


def table(modules: list[dict[str, Any]]) -> str:
    """The per-module counts as the benchmark prints them, with a total over the modules."""
    lines = [[t["module"], *(str(t[key]) for key in COUNTED), "n/a" if t["survival"] is None else f"{100 * t['survival']:.1f}%"] for t in modules]
    totals = {key: sum(t[key] for t in modules) for key in COUNTED[1:]}
    run = totals["mutants"] - totals["not run"]
    gaps = totals["survived"] + totals["no tests"] - totals["equivalent"]
    lines.append(["all", "", *(str(totals[key]) for key in COUNTED[1:]), f"{100 * gaps / run:.1f}%" if run else "n/a"])
    return markdown_table(["module", *COUNTED, "unkilled, non-equivalent"], lines)


def _merge_earlier(path: Path, modules: tuple[str, ...], meta: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows and survivors of an existing record's modules that this run did not mutate, its command noted in ``meta``.

    The modules take hours together, so a record is built from runs of a few modules each.
    """
    if not path.exists():
        return [], []
    earlier = json.loads(path.read_text())
    kept = [{"sample": 1.0} | row for row in earlier["modules"] if row["module"] not in modules]
    if not kept:
        return [], []
    moved = {row["module"] for row in kept}
    survivors = [s for s in earlier["survivors"] if any(_in_module(s["file"], m) for m in moved)]
    previous = earlier["meta"].get("earlier", [])
    meta["earlier"] = [*previous, {k: earlier["meta"][k] for k in ("command", "date", "seconds")} | {"modules": sorted(moved)}]
    return kept, survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", nargs="+", default=list(MODULES), help="a subset of MODULES (default: all)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--json", help="write the counts, every survivor and the run metadata to this file")
    parser.add_argument("--sample", type=float, default=1.0, help="share of each function's mutants run, in tenths (default 1: all)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy (its path is printed)")
    parser.add_argument("--results", help="no run: read a kept scratch copy again (e.g. after reviewing its survivors)")
    parser.add_argument("--rerun", help="a kept scratch copy: give it the current tests and run its unkilled mutants again")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"--modules must be among {list(MODULES)}; got {unknown}")
    modules = tuple(args.modules)
    if not 0.1 <= args.sample <= 1 or abs(round(10 * args.sample) - 10 * args.sample) > 1e-9:
        parser.error(f"--sample must be a multiple of 0.1 in [0.1, 1]; got {args.sample}")
    estimator = "none: the test suite, judged by the mutants of MODULES it kills"
    meta = run_metadata(
        "mutation", list(sys.argv[1:] if argv is None else argv), device="cpu", seed=0, estimator=estimator, modules=list(modules), sample=args.sample
    )
    start = time.perf_counter()
    if args.results or args.rerun:
        work = Path(args.results or args.rerun)
    else:
        work = _scratch_copy(modules)
        _mutmut(work, args.max_children, _patterns(modules, args.sample))
        (work / "seconds.txt").write_text(str(round(time.perf_counter() - start)))
    if args.rerun:
        _refresh(work, modules)
        unkilled = [r["mutant"] for r in _read_results(work, modules, args.sample, diffs=False) if r["status"] not in ("killed", "not run")]
        _mutmut(work, args.max_children, unkilled)
        (work / "rerun_seconds.txt").write_text(str(round(time.perf_counter() - start)))
    meta["rerun_seconds"] = int((work / "rerun_seconds.txt").read_text()) if (work / "rerun_seconds.txt").exists() else None
    meta["seconds"] = int((work / "seconds.txt").read_text()) if (work / "seconds.txt").exists() else None
    rows = _read_results(work, modules, args.sample)
    summary = _summary(rows, modules, args.sample)
    earlier_rows, earlier_survivors = _merge_earlier(Path(args.json), modules, meta) if args.json else ([], [])
    print(table(earlier_rows + summary))
    if args.json:
        survivors = earlier_survivors + [r for r in rows if r["status"] in UNKILLED]
        write_record(args.json, meta, modules=earlier_rows + summary, survivors=survivors)
    if args.keep or args.results:
        print(f"scratch copy: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0
