"""The decomposition benchmark runs end to end in its quick form and records both methods."""

import json

import numpy as np

from benchmarks import decomposition
from miestim.gaussian import decomposition as closed_form


def test_quick_run_writes_both_methods(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert decomposition.main(["--quick", "--json", str(out)]) == 0
    assert "| cmi | Inv |" in capsys.readouterr().out
    rows = json.loads(out.read_text())["rows"]
    assert {r["method"] for r in rows} == {"cmi", "chain_rule"}
    assert {r["term"] for r in rows} == {"Inv", "Comp", "Spec_t", "Spec_a", "Spec_v"}


def test_model_has_informative_terms():
    cov, blocks, target = decomposition.model(8, 0)
    truth = closed_form(cov, blocks, target)
    assert np.allclose(cov, cov.T) and truth.invariant > 0.5 and truth.complementary > 0.05
