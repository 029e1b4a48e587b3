"""Mutation score of the modules where components join: how many one-token changes of the code fail a test.

    python -m benchmarks mutation --json docs/benchmarks/mutation.json            # every module of MODULES
    python -m benchmarks mutation --modules miestim/functional/ --max-children 2  # a subset

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

#: The modules mutated (files, or folders ending in "/"), each with the tests run against its mutants: the bounds, the
#: estimator modules, the cross-fitting race, the chain rule, CMINE, and the sentiment example's loss and batching code.
MODULES: dict[str, tuple[str, ...]] = {
    "miestim/functional/": ("tests/functional", "tests/estimators", "tests/test_estimators.py"),
    "miestim/estimators/": ("tests/estimators", "tests/test_estimators.py", "tests/functional", "tests/test_option_effects.py"),
    "miestim/crossfit/": ("tests/crossfit", "tests/critics/test_knn.py", "tests/test_stderr_calibration.py", "tests/test_option_effects.py"),
    "miestim/heldout.py": ("tests/crossfit", "tests/test_stderr_calibration.py", "tests/test_option_effects.py"),
    "miestim/chain_rule.py": ("tests/entry/test_cmi.py", "tests/test_stderr_calibration.py", "tests/entry/test_decomposition_closed_form.py"),
    "miestim/cmine.py": ("tests/test_cmine.py", "tests/test_cmine_correction.py", "tests/test_option_effects.py"),
    "miestim/cmine_fit.py": ("tests/test_cmine_correction.py", "tests/entry/test_cmi.py", "tests/test_option_effects.py"),
    "examples/sentiment/train.py": ("tests/example/test_training_loop.py", "tests/example/test_train.py"),
    "examples/sentiment/prepare.py": ("tests/example/test_training_loop.py", "tests/example/test_train.py"),
}

#: Survivors reviewed as unable to change behaviour: ``{mutant name: reason}`` (mutmut's names, stable while the
#: function's source is unchanged; a survivor not listed here counts against the score).
EQUIVALENT_FILE = ROOT / "benchmarks" / "mutation_equivalent.json"

#: mutmut's exit codes per mutant: 1 killed (a test failed), 0 survived, 33 no test reached it, 34 skipped,
#: 36 timed out, 24/-24 timed out (killed by the watchdog), 37 a segfault or other crash of the test process.
STATUS = {1: "killed", 0: "survived", 33: "no tests", 34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout", 37: "crashed", None: "not run"}


def _config(modules: tuple[str, ...]) -> str:
    """The ``[mutmut]`` section of a scratch ``setup.cfg``: what to mutate, which tests, one thread per test process."""
    sources = sorted({module.split("/")[0] + "/" for module in MODULES})  # both trees, whichever is mutated: the tests import both
    only = [module + "*" if module.endswith("/") else module for module in modules]
    lines = ["[mutmut]", "source_paths=", *(f"    {s}" for s in sources), "only_mutate="]
    tests = sorted({test for module in modules for test in MODULES[module]})
    lines += [f"    {o}" for o in only] + ["pytest_add_cli_args_test_selection="] + [f"    {t}" for t in tests]
    lines += ["pytest_add_cli_args=", "    -p", "    no:xdist", "    -p", "    no:cacheprovider", "    -x", "    -q"]
    lines += ["process_isolation=forkserver", "use_git_change_detection=false", "timeout_multiplier=5.0"]
    return "\n".join(lines) + "\n"


def _scratch_copy(modules: tuple[str, ...]) -> Path:
    """A copy of the package, the example, the tests and pyproject.toml, with the mutmut configuration beside them."""
    work = Path(tempfile.mkdtemp(prefix="miestim-mutation-"))
    for name in ("miestim", "examples", "tests"):
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "data_cache", "runs"))
    shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
    (work / "setup.cfg").write_text(_config(modules))
    return work


def _read_results(work: Path) -> list[dict[str, Any]]:
    """One row per mutant: its name, source file, status, and for survivors the diff ``mutmut show`` prints."""
    equivalent = json.loads(EQUIVALENT_FILE.read_text()) if EQUIVALENT_FILE.exists() else {}
    rows = []
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        source = str(meta.relative_to(work / "mutants"))[: -len(".meta")]
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            rows.append({"mutant": name, "file": source, "status": STATUS.get(code, f"exit {code}")})
    for row in rows:
        if row["status"] == "survived":
            shown = subprocess.run([sys.executable, "-m", "mutmut", "show", row["mutant"]], cwd=work, capture_output=True, text=True, check=False)
            row["diff"] = shown.stdout.strip()
            row["equivalent"] = equivalent.get(row["mutant"])
    return rows


def _summary(rows: list[dict[str, Any]], modules: tuple[str, ...]) -> list[dict[str, Any]]:
    """Counts per module, and the share of non-equivalent survivors among the mutants the tests reached."""
    table = []
    for module in modules:
        mine = [r for r in rows if r["file"] == module or (module.endswith("/") and r["file"].startswith(module))]
        counts = Counter(r["status"] for r in mine)
        equivalent = sum(1 for r in mine if r["status"] == "survived" and r.get("equivalent"))
        reached = counts["killed"] + counts["survived"] + counts["timeout"] + counts["crashed"]
        gaps = counts["survived"] - equivalent
        table.append(
            {"module": module, "mutants": len(mine), **{k: counts[k] for k in sorted(set(STATUS.values()))}, "equivalent": equivalent}
            | {"survival": gaps / reached if reached else None}
        )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", nargs="+", default=list(MODULES), help="a subset of MODULES (default: all)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--json", help="write the counts, every survivor and the run metadata to this file")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copy (its path is printed)")
    parser.add_argument("--results", help="no run: read a kept scratch copy again (e.g. after reviewing its survivors)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.modules) - set(MODULES))
    if unknown:
        parser.error(f"--modules must be among {list(MODULES)}; got {unknown}")
    modules = tuple(args.modules)
    estimator = "none: the test suite, judged by the mutants of MODULES it kills"
    meta = run_metadata("mutation", list(sys.argv[1:] if argv is None else argv), device="cpu", seed=0, estimator=estimator, modules=list(modules))
    if args.results:
        work = Path(args.results)
    else:
        work = _scratch_copy(modules)
        start = time.perf_counter()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTEST_XDIST_WORKER_COUNT": "2"}  # one torch thread per test process
        subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)], cwd=work, env=env, check=False)
        (work / "seconds.txt").write_text(str(round(time.perf_counter() - start)))
    meta["seconds"] = int((work / "seconds.txt").read_text()) if (work / "seconds.txt").exists() else None
    rows = _read_results(work)
    table = _summary(rows, modules)
    counted = ("mutants", "killed", "survived", "equivalent", "no tests", "timeout", "not run")
    lines = [[t["module"], *(str(t[key]) for key in counted), "n/a" if t["survival"] is None else f"{100 * t['survival']:.1f}%"] for t in table]
    print(markdown_table(["module", *counted, "survival (non-equivalent)"], lines))
    if args.json:
        write_record(args.json, meta, modules=table, survivors=[r for r in rows if r["status"] == "survived"])
    if args.keep or args.results:
        print(f"scratch copy: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0
