"""Progress of a phase: a tqdm bar on a terminal, one summary line in a log.

A bar redrawn with carriage returns is useful on a terminal and noise in a log file (a
non-interactive ``make demo`` once held hundreds of redraws), so when the stream is not a
terminal each phase prints a single line when it ends: its name, how many items, how long.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

from tqdm.auto import tqdm

__all__ = ["phase_progress"]

T = TypeVar("T")


def phase_progress(items: Iterable[T], desc: str, *, enabled: bool = True, unit: str = "batches", stream: IO[str] | None = None) -> Iterable[T]:
    """``items``, with a bar on a terminal ``stream`` (default ``sys.stderr``), else one line once they are consumed.

    Args:
        items: what the phase iterates over.
        desc: the phase's name, e.g. ``"epoch 3 stage 1"``.
        enabled: False: no output at all.
        unit: what one item is, for the summary line.
        stream: where to write (default: ``sys.stderr`` at call time).
    """
    stream = sys.stderr if stream is None else stream
    if not enabled:
        return items
    if stream.isatty():
        return tqdm(items, desc=desc, leave=False, file=stream)
    return _summary_line(items, desc, unit, stream)


def _summary_line(items: Iterable[T], desc: str, unit: str, stream: IO[str]) -> Iterator[T]:
    start, count = time.perf_counter(), 0
    for item in items:
        yield item
        count += 1
    print(f"{desc}: {count} {unit} in {time.perf_counter() - start:.1f} s", file=stream, flush=True)
