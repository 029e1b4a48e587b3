"""Checks for the options of the tasks in ``miestim.tasks`` (sides, planes, degrees of freedom).

The generic checks (integers, floats, choices) come from :mod:`miestim._validation`, the point
and covariance checks from :mod:`miestim.gaussian._checks`.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validation import check_choice

SIDES = ("both", "x", "y")


def check_side(side: Any) -> tuple[bool, bool]:
    """``side`` as ``(maps_x, maps_y)``: which sides of the pair a wrapper transforms."""
    side = check_choice(side, name="side", choices=SIDES)
    return side in ("x", "both"), side in ("y", "both")


def check_plane(plane: Any, *, dims: dict[str, int]) -> tuple[int, int]:
    """Check ``plane`` is two distinct coordinate indices valid on every side named in ``dims``.

    Raises:
        TypeError: not a pair of integers.
        ValueError: the indices are equal, negative, or not below a side's dimension (also when
            that side has a single coordinate: a rotation needs two).
    """
    if isinstance(plane, (str, bytes)) or not isinstance(plane, (Sequence, np.ndarray)) or len(plane) != 2:
        raise TypeError(f"plane must be a pair of coordinate indices such as (0, 1); got {plane!r}.")
    if any(isinstance(i, (bool, np.bool_)) or not isinstance(i, numbers.Integral) for i in plane):
        raise TypeError(f"plane must hold two integers; got {plane!r}.")
    i, j = int(plane[0]), int(plane[1])
    if i == j or min(i, j) < 0:
        raise ValueError(f"plane must name two distinct non-negative coordinates; got ({i}, {j}).")
    for side, dim in dims.items():
        if max(i, j) >= dim:
            raise ValueError(
                f"plane ({i}, {j}) needs coordinates below dim_{side} = {dim}; "
                + ("a rotation needs at least two coordinates, so spin the other side instead." if dim < 2 else f"use indices in [0, {dim}).")
            )
    return i, j
