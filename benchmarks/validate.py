"""A validation suite as a benchmark record: ``miestim.validate`` with the run's metadata.

``miestim validate`` (the command line) prints a report; this writes the same report as a record
that names the estimator, the commit and the machine, so the docs' reference run
(``docs/benchmarks/validate_quick.md``) is regenerated from it by ``python -m benchmarks docs``.

Usage::

    OMP_NUM_THREADS=1 python -m benchmarks validate --suite quick --json docs/benchmarks/validate_quick.json
    python -m benchmarks validate --suite quick --n 500 --estimator infonce
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import miestim

from ._report import header, run_metadata


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks validate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=list(miestim.validation.SUITES), default="quick")
    parser.add_argument("--estimator", default="default", help="'default' or an estimator name (default: default)")
    parser.add_argument("--n", type=int, help="samples per task (default: the suite's)")
    parser.add_argument("--seeds", type=int, help="number of seeds 0..S-1 (default: the suite's)")
    parser.add_argument("--json", help="write the record to this file")
    return parser


def record(report: miestim.validation.ValidationReport, meta: dict[str, Any]) -> dict[str, Any]:
    """The report's own record with the benchmark's metadata (the report's meta kept under ``validate``)."""
    as_dict = report.to_dict()
    return {**as_dict, "meta": {**meta, "validate": as_dict["meta"]}}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    report = miestim.validate(args.estimator, args.suite, n=args.n, seeds=args.seeds, progress=False)
    meta = run_metadata("validate", argv, device="cpu", seed=report.seeds[0], estimator=report.estimator, suite=report.suite, n=report.n)
    print(header(meta))
    print(report.to_markdown())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(record(report, meta), fh, indent=1, allow_nan=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
