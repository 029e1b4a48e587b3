"""``python -m miestim validate``: a stub callable end to end, and clear errors for a bad --callable."""

from __future__ import annotations

import json
import sys

import pytest

from miestim import cli

STUB = "def half(x, y):\n    return 0.5\n\ndef triple(x, y, z):\n    return 0.0\n\nnot_a_function = 3\n"


@pytest.fixture
def stub_module(tmp_path, monkeypatch):
    (tmp_path / "my_stub_estimators.py").write_text(STUB)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_callable_on_the_quick_suite_prints_the_table_and_writes_json_and_plot(stub_module, capsys):
    out, plot = stub_module / "runs" / "v.json", stub_module / "runs" / "v.png"
    assert cli.main(["validate", "--callable", "my_stub_estimators:half", "--n", "50", "--json", str(out), "--plot", str(plot)]) == 0
    printed = capsys.readouterr().out
    assert "| task | truth | estimate ± stderr | error | seconds |" in printed
    assert "| correlated-gaussian-1d-mi0.5 | 0.500 | 0.500 | +0.000 |" in printed and "1/6 within tolerance" in printed
    assert json.loads(out.read_text())["estimator"] == "my_stub_estimators.half" and plot.stat().st_size > 1000


def test_cmi_suite_with_seeds(stub_module, capsys):
    assert cli.main(["validate", "--callable", "my_stub_estimators:triple", "--suite", "cmi", "--n", "60", "--seeds", "2"]) == 0
    assert "| task | seed | truth |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--callable", "my_stub_estimators"], "must look like package.module:function"),
        (["--callable", "no_such_module_here:f"], "cannot import module 'no_such_module_here'"),
        (["--callable", "my_stub_estimators:missing"], "has no attribute 'missing'"),
        (["--callable", "my_stub_estimators:not_a_function"], "names a int, not a function"),
        (["--callable", "my_stub_estimators:half", "--suite", "cmi"], "must accept (x, y, z)"),
        (["--n", "1"], "n must be an integer >= 2"),
    ],
)
def test_bad_arguments_exit_with_a_message(stub_module, capsys, argv, match):
    with pytest.raises(SystemExit) as exc:
        cli.main(["validate", *argv])
    assert exc.value.code == 2 and match in capsys.readouterr().err


def test_estimator_and_callable_are_exclusive(capsys):
    with pytest.raises(SystemExit):
        cli.main(["validate", "--estimator", "smile", "--callable", "a:b"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_plot_without_matplotlib_is_refused_before_the_run(stub_module, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # find_spec then finds no matplotlib
    monkeypatch.setattr("miestim.validation.validate", lambda *a, **k: pytest.fail("the run started"))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["validate", "--callable", "my_stub_estimators:half", "--plot", "v.png"])
    assert exit_info.value.code == 2 and "--plot needs matplotlib" in capsys.readouterr().err
