"""The perfect-critic benchmark runs end to end in its quick form and reads what the exact critic should read."""

import json

import numpy as np

from benchmarks import oracle
from miestim.gaussian import CorrelatedGaussianTask


def test_quick_run_scores_every_readout_of_every_task(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert oracle.main(["--quick", "--json", str(out)]) == 0
    assert "| quantity | d | true value | readout | k | test n | draws |" in capsys.readouterr().out
    rows = json.loads(out.read_text())["rows"]
    expected = {("I(X;Y)", d, name) for d, _, _ in oracle.MI_TASKS for name in oracle.MI_READOUTS}
    expected |= {("I(X;Y|Z)", 5, name) for name in oracle.CMI_READOUTS}
    assert {(r["quantity"], r["dim"], r["readout"]) for r in rows} == expected
    by_key = {(r["quantity"], r["dim"], r["readout"]): r for r in rows}
    # With the exact critic on 200 pairs at d = 1, MI = 1, every bound reads within 0.2 nats
    # (about four times the spread of one draw, 0.05); a wrong ratio or a missing +1 for NWJ
    # (an offset of 1/e) would not.
    for name in oracle.MI_READOUTS:
        assert abs(by_key[("I(X;Y)", 1, name)]["mean_error"]) < 0.2, name
    assert all(r["draws"] == 2 for r in rows)


def test_draws_within_target_count_the_absolute_error():
    row = oracle.summarise("I(X;Y)", 20, 4.0, "dv", 0, 2000, [0.05, -0.07, 0.2], 0.08)
    assert (row.within_target, row.draws, round(row.mean_error, 6), row.min_error, row.max_error) == (2, 3, round(0.06, 6), -0.07, 0.2)


def test_score_matrix_is_the_pointwise_ratio_of_every_pair():
    task = CorrelatedGaussianTask(3, 2.0)
    x, y = task.sample(7, seed=0, dtype=np.float64)
    pairs = task.log_density_ratio(np.repeat(x, 7, axis=0), np.tile(y, (7, 1))).reshape(7, 7)
    np.testing.assert_allclose(oracle.score_matrix(task, x, y).numpy(), pairs, rtol=0, atol=1e-9)
