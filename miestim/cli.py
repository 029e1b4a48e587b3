"""The ``miestim`` command line (also ``python -m miestim``).

miestim validate --suite quick                                   # the default estimator on the quick suite
miestim validate --estimator infonce --suite standard --jobs 2 --json runs/infonce.json --plot runs/infonce.png
miestim validate --callable mypackage.estimators:ksg --suite quick  # your own f(x, y) -> float
MIESTIM_NUM_THREADS=2 miestim validate --suite quick              # torch threads of this process (default 1)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["DEFAULT_THREADS", "THREADS_ENV", "main", "program_threads", "resolve_num_threads"]

#: torch intra-op threads of a program run from the command line (``miestim validate``, the example) when neither
#: ``--num-threads`` nor :data:`THREADS_ENV` says otherwise. One, from docs/benchmarks/threads.md (``python -m
#: benchmarks threads``): beside one busy process a second thread made the example's epoch and a one-call estimate
#: several times slower, while on an idle machine it gained little on tensors of this size.
DEFAULT_THREADS = 1
#: The environment variable that sets the thread count of the command lines (a positive integer).
THREADS_ENV = "MIESTIM_NUM_THREADS"


def resolve_num_threads(requested: int | None = None) -> int:
    """The intra-op thread count a command line runs with: ``requested``, else ``$MIESTIM_NUM_THREADS``, else :data:`DEFAULT_THREADS`.

    Raises:
        ValueError: ``requested`` or the environment variable is not a positive integer.
    """
    if requested is None:
        text = os.environ.get(THREADS_ENV, "").strip()
        if not text:
            return DEFAULT_THREADS
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"{THREADS_ENV} must be a positive integer (torch threads per process); got {text!r}.")
        return int(text)
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ValueError(f"num_threads must be a positive integer (torch threads per process); got {requested!r}.")
    return requested


@contextlib.contextmanager
def program_threads(requested: int | None = None) -> Iterator[int]:
    """Run a program's body with torch's intra-op thread count of :func:`resolve_num_threads`, restored on exit.

    For program entry points only (this module's :func:`main`, the example's command line): the
    library's functions never change torch's global thread count. In your own program call
    ``torch.set_num_threads`` once at start-up instead (see the guide's "Threads" section).

    Yields:
        The thread count in force.
    """
    threads = resolve_num_threads(requested)
    import torch  # imported here: ``miestim --help`` stays fast

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)


def load_callable(spec: str) -> Callable[..., Any]:
    """The object named by ``"package.module:function"`` (``function`` may be dotted, e.g. ``Class.method``).

    The current directory is searched first, as ``python -m`` does.

    Raises:
        ValueError: ``spec`` is not ``module:name``, the module cannot be imported, or it has no such attribute.
        TypeError: the attribute is not callable.
    """
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"--callable must look like package.module:function; got {spec!r}.")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"--callable {spec!r}: cannot import module {module_name!r} ({type(err).__name__}: {err}).") from err
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(f"--callable {spec!r}: {getattr(target, '__name__', target)!r} has no attribute {part!r}.")
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"--callable {spec!r} names a {type(target).__name__}, not a function.")
    return target


def build_parser() -> argparse.ArgumentParser:
    from .validation import SUITES

    parser = argparse.ArgumentParser(prog="miestim", description="miestim: mutual-information estimation for PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "validate",
        help="run an estimator over a suite of ground-truth tasks and print the table",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = run.add_mutually_exclusive_group()
    which.add_argument("--estimator", default="default", help="'default' (estimate_mi's defaults) or an estimator name, e.g. smile, infonce")
    which.add_argument(
        "--callable",
        dest="function",
        metavar="MODULE:FUNCTION",
        help="your own estimator: f(x, y) -> float or EstimateResult (CMI suite: f(x, y, z))",
    )
    run.add_argument("--suite", choices=list(SUITES), default="quick", help="default quick")
    run.add_argument("--n", type=int, help="samples per task (default: the suite's)")
    run.add_argument("--seeds", type=int, help="number of seeds 0..S-1 (default: the suite's)")
    run.add_argument("--jobs", type=int, default=1, help="parallel jobs (joblib; -1: all cores; default 1)")
    run.add_argument("--timeout", type=float, help="seconds one task may take; past it the task is stopped and recorded")
    run.add_argument("--device", help="device of the library's estimators (default: CPU)")
    run.add_argument(
        "--num-threads",
        type=int,
        help=f"torch threads of this process (default: ${THREADS_ENV}, else {DEFAULT_THREADS}: measured fastest on a shared machine)",
    )
    run.add_argument("--json", metavar="PATH", help="write the report as JSON")
    run.add_argument("--plot", metavar="PATH", help="save estimate against truth as an image (needs matplotlib)")
    return parser


def _validate(args: argparse.Namespace, parser: argparse.ArgumentParser, argv: Sequence[str]) -> int:
    from .validation import validate

    if args.plot and importlib.util.find_spec("matplotlib") is None:  # checked before the run, not after it
        parser.error("--plot needs matplotlib: pip install 'miestim[plot]', or leave --plot out.")
    try:
        estimator: Any = load_callable(args.function) if args.function else args.estimator
        options = {"device": args.device} if args.device and not args.function else None
        with program_threads(args.num_threads):
            report = validate(estimator, args.suite, n=args.n, seeds=args.seeds, n_jobs=args.jobs, timeout=args.timeout, estimate_kwargs=options)
    except (TypeError, ValueError) as err:
        parser.error(str(err))
    meta = report.meta
    print(
        f"# miestim validate: {report.estimator} on the {report.suite} suite\n\n"
        f"`miestim {' '.join(argv)}` · n={report.n} · seeds {list(report.seeds)} · {meta['seconds']:.0f} s · "
        f"miestim {meta['miestim']} · torch {meta['torch']} · {meta['threads']} threads · {meta['date']}\n"
    )
    print(report.to_markdown())
    for path, write in ((args.json, lambda p: _write(p, report.to_json())), (args.plot, report.plot)):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            write(path)
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (argument errors exit with status 2)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    return _validate(args, parser, argv)
