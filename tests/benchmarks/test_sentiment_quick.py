"""The sentiment benchmarks run end to end in their quick form (pipeline only, tiny data)."""

from __future__ import annotations

import json

from benchmarks import sentiment_ablation, sentiment_speed
from benchmarks._report import compare_errors
from examples.sentiment.mi_terms import GROUPS, TERM_NAMES


def test_ablation_settings_drop_exactly_one_group():
    settings = sentiment_ablation.ablation_weights(0.01)
    assert settings["all terms"] == (0.01,) * 8 and settings["no MI terms"] == (0.0,) * 8
    for group, members in GROUPS.items():
        dropped = {name for name, w in zip(TERM_NAMES, settings[f"without {group}"]) if w == 0}
        assert dropped == set(members)


def test_ablation_quick_run_and_baseline(tmp_path, capsys):
    out = tmp_path / "ablation.json"
    assert sentiment_ablation.main(["--quick", "--seeds", "0", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| all terms |" in printed and "MI terms vs none" in printed
    stored = json.loads(out.read_text())
    assert [r["setting"] for r in stored["rows"]] == list(sentiment_ablation.ablation_weights(0.01))
    # A stored run with a far lower test MAE is a regression of this one.
    better = {"rows": [dict(r, error=r["error"] - 1.0) for r in stored["rows"]]}
    (tmp_path / "better.json").write_text(json.dumps(better))
    assert len(compare_errors(stored["rows"], str(tmp_path / "better.json"), 0.05, key=lambda r: (r["setting"],))) == 6


def test_speed_quick_run(tmp_path, capsys):
    out = tmp_path / "speed.json"
    assert sentiment_speed.main(["--quick", "--epochs", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "MI share of a training epoch" in printed
    rows = json.loads(out.read_text())["rows"]
    assert [r["setting"] for r in rows] == ["all 8 MI terms", "all 8 MI terms, bank by a separate pass", "no MI terms"]
    assert rows[2]["seconds_stage1"] == 0 and rows[0]["seconds_stage1"] > 0
    # One epoch: the first epoch's bank is always a separate pass; the shares are fractions of the training time.
    assert rows[0]["seconds_bank_features"] > 0 and all(0 < r["mi_share"] < 1 for r in rows[:2]) and rows[2]["mi_share"] == 0
