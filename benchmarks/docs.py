"""Every number in README.md and docs/ that a benchmark measured is regenerated from its stored record.

A page marks a generated region with two HTML comments (invisible on GitHub and on the site)::

    <!-- record: auto-summary -->
    ...the table, written by this command...
    <!-- /record -->

and :data:`REGIONS` says what fills a region: a function of one or more records of
``docs/benchmarks/``. The region ends with a line naming the records and the commands that made
them. ``python -m benchmarks docs`` rewrites every region of README.md and docs/**/*.md;
``--check`` rewrites nothing and exits 1 when a region differs from what the records give (a
number edited by hand, a record rerun without regenerating the pages) or names no known region.
It also fails where a page, or a docstring of the package, calls a former default (SMILE, CMINE,
``method="cmi"``) "the default" while the code's signatures say otherwise.

A table from a new record is one entry of :data:`REGIONS`, e.g. for a record whose rows have
``step`` and ``seconds``::

    "demo-timings": Region(("make_demo.json",), rows_table(("step", "{step}"), ("seconds", "{seconds:.0f}"))),

then ``<!-- record: demo-timings -->`` / ``<!-- /record -->`` in the page, and ``python -m benchmarks docs``.
A benchmark that prints its own table of its rows (``benchmarks/<module>.py`` with a row dataclass
``Row`` and ``table(rows)``, writing its record with ``_report.write_record``) is shown as it prints::

    "my-bench": Region(("my_bench.json",), benchmark_page("my_bench", "Row", "table")),

Usage::

    python -m benchmarks docs            # rewrite the regions
    python -m benchmarks docs --check    # exit 1 if any region is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _tables
from ._report import markdown_table
from ._tables import benchmark_page

ROOT = Path(__file__).resolve().parents[1]
RECORDS = Path("docs") / "benchmarks"
_REGION = re.compile(r"(?P<open><!-- record: (?P<name>[^\s>]+) -->\n)(?P<body>.*?)(?P<close><!-- /record -->)", re.DOTALL)

Render = Callable[..., str]


@dataclass(frozen=True)
class Region:
    """What fills a region: the records it reads (file names under docs/benchmarks/) and a function of them."""

    records: tuple[str, ...]
    render: Render


def rows_table(*columns: tuple[str, str], rows: str = "rows") -> Render:
    """A renderer of one record: a markdown table, one line per entry of ``record[rows]``.

    Each column is ``(header, template)``; the template is ``str.format``-ed with the row's fields
    (``"{seconds:.1f}"``).
    """

    def render(record: dict[str, Any]) -> str:
        return markdown_table([h for h, _ in columns], [[template.format(**row) for _, template in columns] for row in record[rows]])

    return render


#: Every generated region of the pages, by name.
REGIONS: dict[str, Region] = {
    "auto-summary": Region(("auto.json",), _tables.auto_summary),
    "auto-families": Region(("auto.json", "auto_gaussian.json"), _tables.auto_families),
    "validate-quick": Region(("validate_quick.json",), _tables.validate_report),
    "cmi-chain-summary": Region(("cmi_chain.json",), _tables.cmi_chain_summary),
    "decomposition-summary": Region(("decomposition.json",), _tables.decomposition_summary),
    "compare-core": Region(("compare.json",), _tables.compare_best("torch-mist", "bmi", "plug-in")),  # sklearn's KSG: 1-d tasks only
    "compare-beyond": Region(("compare_beyond.json",), _tables.compare_best("torch-mist", "bmi", "sklearn", "plug-in")),
    "compare-cmi": Region(("compare.json",), _tables.compare_cmi),
    "compare": Region(("compare.json",), _tables.compare_page),
    "compare-beyond-page": Region(("compare_beyond.json",), _tables.compare_page),
    "compare-gaps": Region(("compare_gaps.json",), _tables.compare_gaps),
    "compare-gaps-page": Region(("compare_gaps.json",), _tables.compare_page),
    # Each benchmark's own page: its table (and verdicts) of the stored rows.
    "auto": Region(("auto.json",), benchmark_page("auto", None, "table")),
    "auto-gaps": Region(("auto_gaps.json",), benchmark_page("auto", None, "table", "summary")),
    "accuracy": Region(("accuracy.json",), benchmark_page("accuracy", "Row", "markdown", "check_targets")),
    "seeds": Region(("seeds.json",), benchmark_page("seeds", "Row", "summary")),
    "seeds-small": Region(("seeds_small.json",), benchmark_page("seeds", "Row", "summary")),
    "oracle": Region(("oracle.json",), benchmark_page("oracle", "Row", "markdown")),
    "oracle-cmi": Region(("oracle.json",), _tables.oracle_cmi),
    "oracle-mi": Region(("oracle.json",), _tables.oracle_mi),
    "smile-quadratic": Region(("seeds.json",), _tables.seeds_variants("default", "quadratic")),
    "smile-larger-critics": Region(("seeds.json",), _tables.seeds_variants("default", "deep", "wide")),
    "cmi-chain": Region(("cmi_chain.json",), benchmark_page("cmi_chain", "Row", "markdown", "summary")),
    "cmine": Region(("cmi.json",), benchmark_page("cmi_accuracy", "Row", "markdown", "check_targets")),
    "cmine-seeds-cuda": Region(("cmi_seeds-cuda.json",), benchmark_page("cmi_accuracy", "Row", "markdown", "check_targets", "seed_summary")),
    "decomposition": Region(("decomposition.json",), benchmark_page("decomposition", "Row", "markdown", "summary")),
    "staircase": Region(("staircase.json",), _tables.staircase),
    "speed": Region(("speed.json",), _tables.speed),
    "sampler": Region(("sampler.json",), _tables.sampler),
    "large-data": Region(("large_data.json",), benchmark_page("large_data", None, "table", "targets")),
    "distributed": Region(("distributed.json",), benchmark_page("distributed", "ThroughputRow", "table")),
    "threads": Region(("threads.json",), _tables.threads),
    "mutation": Region(("mutation.json",), _tables.mutation),
    "demo-seconds": Region(("threads.json",), _tables.demo_seconds),
    # Before the bank change the record had no bank-features column: its rows as they were stored.
    "sentiment-speed-before": Region(
        ("sentiment_speed.json",),
        rows_table(
            ("setting", "{setting}"),
            ("s / epoch", "{seconds_epoch:.1f}"),
            ("training", "{seconds_train:.1f}"),
            ("bank + samplers", "{seconds_bank:.2f}"),
            ("stage 1", "{seconds_stage1:.2f}"),
            ("stage 2", "{seconds_stage2:.1f}"),
            ("MI forward in stage 2", "{seconds_mi_forward:.2f}"),
            ("evaluation", "{seconds_eval:.1f}"),
        ),
    ),
    "sentiment-speed-scale0.1": Region(("sentiment_speed-scale0.1.json",), benchmark_page("sentiment_speed", "SpeedRow", "table", stored_lines=True)),
    "sentiment-ablation": Region(("sentiment_ablation.json",), benchmark_page("sentiment_ablation", "AblationRow", "table", stored_lines=True)),
}


def load_record(root: Path, name: str) -> dict[str, Any]:
    with open(root / RECORDS / name, encoding="utf-8") as fh:
        return json.load(fh)


def provenance(records: Sequence[str], loaded: Sequence[dict[str, Any]]) -> str:
    """The line under a region: each record, its command, commit (where recorded) and date."""
    parts = []
    for name, record in zip(records, loaded, strict=True):
        meta = record.get("meta")
        if meta is None:  # records from before run metadata was written
            parts.append(f"`{RECORDS.as_posix()}/{name}` (no run metadata recorded)")
            continue
        facts = [f"commit {meta['commit']}" if meta.get("commit") else "", str(meta.get("machine", "")), f"{meta.get('threads', '?')} thread(s)"]
        facts += [f"torch {meta['torch']}" if meta.get("torch") else "", f"device {meta['device']}" if meta.get("device", "cpu") != "cpu" else ""]
        facts += [f"load average {meta['load_average']}" if meta.get("load_average") else "", str(meta.get("date", "?")), str(meta.get("note", ""))]
        parts.append(f"`{RECORDS.as_posix()}/{name}` (`{meta.get('command', '?').strip()}`; {', '.join(f for f in facts if f)})")
    return "<sub>Generated by `python -m benchmarks docs` from " + "; ".join(parts) + ".</sub>"


def render_region(root: Path, name: str) -> str:
    region = REGIONS[name]
    loaded = [load_record(root, record) for record in region.records]
    return region.render(*loaded).rstrip() + "\n\n" + provenance(region.records, loaded) + "\n"


def pages(root: Path) -> list[Path]:
    """README.md and every markdown page under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


#: Estimators and methods that were defaults once: a page that still calls one of them "the default"
#: is wrong unless the code's own default (:func:`_tables.code_default`) says so again.
FORMER_DEFAULTS = ("smile", "cmine", "cmi")
_Q = r"[`\"']*"
_NOT_HISTORY = r"(?!\s+(?:before|until))"
# Another library's default ("torch-mist's `estimate_mi` default (SMILE)") is not miestim's.
_OTHER_LIBRARY = re.compile(r"(?:torch-mist|bmi)(?:'s)?\b[^.|]{0,40}$", re.IGNORECASE)


def _default_claims(names: Sequence[str]) -> list[re.Pattern[str]]:
    """``smile (default)``, ``SMILE, the default``, ``the default (SMILE)``, ``default: cmine``."""
    name = rf"(?P<name>{'|'.join(names)})"
    return [
        re.compile(rf"(?<![\w-]){name}{_Q}\)?\s*\((?:the )?default\b{_NOT_HISTORY}", re.IGNORECASE),
        re.compile(rf"(?<![\w-]){name}{_Q},? (?:is )?(?:now )?the default\b{_NOT_HISTORY}", re.IGNORECASE),
        re.compile(rf"(?<!former )\bdefault(?: estimator| method)?(?: is|:| =)? \(?{_Q}{name}(?![\w-])", re.IGNORECASE),
    ]


def stale_defaults(text: str, where: str) -> list[str]:
    """Where ``text`` calls a former default "the default" although the code's defaults are others."""
    current = {
        str(_tables.code_default(f, o)).lower() for f, o in (("estimate_mi", "estimator"), ("estimate_cmi", "method"), ("decompose", "method"))
    }
    names = [n for n in FORMER_DEFAULTS if n not in current]
    problems = []
    for pattern in _default_claims(names) if names else []:
        for match in pattern.finditer(text):
            if _OTHER_LIBRARY.search(text[max(0, match.start() - 60) : match.start("name")]):
                continue
            line = text.count("\n", 0, match.start()) + 1
            problems.append(f"{where}:{line}: calls {match['name']!r} the default; the code's defaults are {sorted(current)}")
    return problems


def docstring_files(root: Path) -> list[Path]:
    """The package's modules, whose docstrings are checked for stale defaults like the pages."""
    return sorted((root / "miestim").rglob("*.py"))


def regenerate(text: str, root: Path, where: str) -> tuple[str, list[str]]:
    """``text`` with every region rendered afresh, and the problems found (unknown region names)."""
    problems: list[str] = []

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in REGIONS:
            problems.append(f"{where}: unknown region {name!r} (known: {', '.join(REGIONS)})")
            return match[0]
        missing = [r for r in REGIONS[name].records if not (root / RECORDS / r).is_file()]
        if missing:
            problems.append(f"{where}: region {name!r} reads {', '.join(missing)}, which is not in {RECORDS.as_posix()}/")
            return match[0]
        return match["open"] + render_region(root, name) + match["close"]

    return _REGION.sub(fill, text), problems


def run(root: Path, *, check: bool) -> list[str]:
    """Rewrite (or, with ``check``, only compare) every page's regions; the problems found, one line each."""
    problems: list[str] = []
    for module in docstring_files(root):
        problems += stale_defaults(module.read_text(encoding="utf-8"), module.relative_to(root).as_posix())
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        where = page.relative_to(root).as_posix()
        fresh, found = regenerate(text, root, where)
        problems += found + stale_defaults(text, where)
        if fresh == text:
            continue
        if check:
            stale = [m["name"] for m, n in zip(_REGION.finditer(text), _REGION.finditer(fresh), strict=True) if m[0] != n[0]]
            problems.append(f"{where}: region(s) {', '.join(stale)} differ from the records; run `python -m benchmarks docs`")
        else:
            page.write_text(fresh, encoding="utf-8")
            print(f"rewrote {where}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a region differs from the records")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)  # the tests check a copy
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    problems = run(args.root, check=args.check)
    print("\n".join(problems) if problems else ("every region matches its records" if args.check else "done"), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
