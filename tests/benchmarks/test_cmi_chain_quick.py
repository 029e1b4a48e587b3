"""``python -m benchmarks cmi-chain --quick`` runs every part and writes its record; its target lines can fail."""

import json

from benchmarks import cmi_chain
from benchmarks.cmi_chain import Row, summary


def test_quick_run_covers_every_part_and_method(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert cmi_chain.main(["--quick", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert {(r["part"], r["method"]) for r in rows} == {
        ("chain", "chain_rule"),
        ("additive", "chain_rule"),
        ("additive", "chain_rule-gaussian"),
        ("highdim", "chain_rule"),
        ("highdim", "cmine-dv"),
        ("highdim", "cmine-dv-corrected"),
        ("null", "chain_rule"),
        ("null", "cmine-dv"),
        ("null", "cmine-dv-corrected"),
    }
    assert sorted({r["dim_z"] for r in rows if r["part"] == "null"}) == list(cmi_chain.NULL_DIMS)
    assert all(r["truth"] == 0.0 for r in rows if r["part"] == "null")
    assert "| chain | gaussian-chain" in capsys.readouterr().out


def test_summary_passes_and_misses():
    def row(part, truth, estimate, seconds=1.0, dim_z=5):
        return Row(part, "t", "chain_rule", dim_z, 100, 0, truth, estimate, 0.01, estimate - truth, seconds)

    assert summary([row("chain", 7.592, 7.6), row("chain", 7.592, 7.5)])[0].startswith("PASS")
    # mean error -3.3%: beyond 3%
    assert summary([row("chain", 7.592, 7.342)])[0].startswith("MISS")
    assert summary([row("chain", 7.592, 7.6, seconds=61.0)])[0].endswith("MISS time (target <= 60 s)")
    assert summary([row("null", 0.0, 0.04), row("null", 0.0, -0.01)])[0].startswith("PASS")
    assert summary([row("null", 0.0, 0.06)])[0].startswith("MISS")
    assert summary([row("highdim", 0.1, 0.109, dim_z=50)])[0].startswith("PASS")
    assert summary([row("highdim", 0.1, 0.109, dim_z=20)])[0].startswith("MISS")
    # issue 30's additive tasks: within 5%
    assert summary([row("additive", 0.511, 0.53, dim_z=20)])[0].startswith("PASS")
    assert summary([row("additive", 0.511, 0.48, dim_z=20)])[0].startswith("MISS")
