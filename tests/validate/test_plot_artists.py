"""The validation plot as drawn: each estimate a marker at (truth, estimate), failures marked, also through ``miestim validate --plot``."""

from __future__ import annotations

import math

import matplotlib
import pytest
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure

from miestim import cli
from miestim.validation import ValidationReport, ValidationRow

matplotlib.use("Agg")

ROWS = (
    ValidationRow("a", "I(X;Y)", 0, 100, 1.0, 1.2, 0.1, 0.2, 0.5, "ok"),
    ValidationRow("b", "I(X;Y)", 0, 100, 2.0, math.nan, math.nan, math.nan, 3.0, "timeout", "stopped"),
)


def _marked_points(ax) -> dict[str, list[tuple[float, float]]]:
    """Legend label -> the (x, y) points drawn with a marker: each error-bar series' data line and each plain line."""
    caps = {id(line) for c in ax.containers if isinstance(c, ErrorbarContainer) for line in c.lines[1]}
    series = [(c.get_label(), c.lines[0]) for c in ax.containers if isinstance(c, ErrorbarContainer)]
    series += [(line.get_label(), line) for line in ax.get_lines() if id(line) not in caps and not line.get_label().startswith("_")]
    points: dict[str, list[tuple[float, float]]] = {}
    for label, line in series:
        if line.get_marker() not in (None, "", " ", "None", "none"):
            points.setdefault(label, []).extend(zip(map(float, line.get_xdata()), map(float, line.get_ydata())))
    return points


def test_one_estimate_is_a_visible_marker_and_a_failure_is_marked():
    ax = ValidationReport(rows=ROWS, estimator="stub", suite="custom", n=100, seeds=(0,), tolerance=0.1).plot()
    points = _marked_points(ax)
    assert points["estimate ± stderr"] == [(1.0, 1.2)]
    failed = [p for label, p in points.items() if label.startswith("failed")]
    assert failed == [[(2.0, 1.0)]]  # at the truth, on the bottom of the axes (the lowest value drawn)
    assert "estimate = truth" not in points  # the reference diagonal is a plain line


def test_cli_plot_draws_every_task_as_a_marker(tmp_path, monkeypatch):
    drawn: list[Figure] = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (drawn.append(self), save(self, *a, **k))[1])
    (tmp_path / "half_estimator.py").write_text("def half(x, y):\n    return 0.5\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate", "--callable", "half_estimator:half", "--n", "50", "--plot", str(tmp_path / "v.png")]) == 0
    (fig,) = drawn
    marked = _marked_points(fig.axes[0])
    assert list(marked) == ["estimate ± stderr"]
    assert [y for _, y in marked["estimate ± stderr"]] == pytest.approx([0.5] * 6)  # the quick suite's six tasks
