"""ValidationReport: the summary, Markdown, strict JSON, pandas and the plot."""

from __future__ import annotations

import json
import math
import sys

import pytest

import miestim
from miestim.validation import ValidationReport, ValidationRow

ROWS = (
    ValidationRow("a", "I(X;Y)", 0, 100, 1.0, 1.2, 0.1, 0.2, 0.5, "ok"),
    ValidationRow("b", "I(X;Y)", 0, 100, 2.0, math.nan, math.nan, math.nan, 3.0, "timeout", "stopped after the timeout of 3 s"),
    ValidationRow("c", "I(X;Y)", 0, 100, 0.0, 0.05, math.nan, 0.05, 0.1, "ok"),
)
REPORT = ValidationReport(rows=ROWS, estimator="stub", suite="custom", n=100, seeds=(0,), tolerance=0.1)


def test_summary():
    s = REPORT.summary
    assert (s.tasks, s.within_tolerance, s.failures) == (3, 1, 1)
    assert s.mean_abs_error == pytest.approx(0.125) and s.max_abs_error == pytest.approx(0.2) and s.seconds == pytest.approx(3.6)
    assert "1/3 within tolerance" in str(s)


def test_markdown_shows_stderr_only_when_reported_and_the_failure():
    text = REPORT.to_markdown()
    assert "| task | truth | estimate ± stderr | error | seconds | status |" in text
    assert "| a | 1.000 | 1.200 ± 0.100 | +0.200 | 0.5 | ok |" in text
    assert "| c | 0.000 | 0.050 | +0.050 | 0.1 | ok |" in text
    assert "| b | 2.000 | — | — | 3.0 | timeout: stopped after the timeout of 3 s |" in text


def test_json_is_strict_and_complete():
    record = json.loads(REPORT.to_json())  # no NaN tokens: json.loads of strict JSON
    assert record["rows"][1]["estimate"] is None and record["rows"][0]["stderr"] == 0.1
    assert record["summary"]["within_tolerance"] == 1 and record["units"] == "nats"


def test_pandas_and_its_message_when_missing(monkeypatch):
    frame = REPORT.to_pandas()
    assert list(frame["task"]) == ["a", "b", "c"] and "status" in frame.columns
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="to_pandas needs pandas"):
        REPORT.to_pandas()


def test_plot_writes_an_image(tmp_path, monkeypatch):
    path = tmp_path / "validate.png"
    REPORT.plot(path)
    assert path.stat().st_size > 1000
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="plot needs matplotlib"):
        REPORT.plot()


def test_reports_are_frozen():
    with pytest.raises(AttributeError):
        REPORT.n = 5
    assert isinstance(miestim.validate(lambda x, y: 0.0, [miestim.gaussian.CorrelatedGaussianTask(1, 0.5)], n=10), miestim.ValidationReport)
