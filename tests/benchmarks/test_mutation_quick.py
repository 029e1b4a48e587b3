"""``python -m benchmarks mutation``: the configuration it hands mutmut and the counts it records (the run itself
takes hours on 2 cores and is not part of the suite)."""

import fnmatch
import json

from benchmarks import mutation


def test_config_mutates_the_chosen_modules_with_their_tests():
    config = mutation._config(("miestim/functional/", "miestim/cmine.py"))
    sections = dict(part.split("=", 1) for part in config.split("\n") if "=" in part and not part.startswith(" "))
    assert config.startswith("[mutmut]\n") and set(sections) >= {"source_paths", "only_mutate", "pytest_add_cli_args_test_selection"}
    listed = [line.strip() for line in config.splitlines() if line.startswith("    ")]
    assert "miestim/functional/*" in listed and "miestim/cmine.py" in listed and "examples/sentiment/train.py" not in listed
    expected = set(mutation.MODULES["miestim/functional/"]) | set(mutation.MODULES["miestim/cmine.py"])
    assert expected <= set(listed) and "tests/example/test_train.py" not in listed


def test_summary_counts_unkilled_mutants_net_of_equivalent_ones():
    rows = [
        {"file": "miestim/functional/dv.py", "status": "killed"},
        {"file": "miestim/functional/nwj.py", "status": "killed"},
        {"file": "miestim/functional/nwj.py", "status": "survived", "equivalent": "a message's wording"},
        {"file": "miestim/functional/js.py", "status": "survived", "equivalent": None},
        {"file": "miestim/functional/js.py", "status": "no tests"},
        {"file": "miestim/cmine.py", "status": "timeout"},
        {"file": "miestim/cmine.py", "status": "not run"},
    ]
    functional, cmine = mutation._summary(rows, ("miestim/functional/", "miestim/cmine.py"))
    assert (functional["mutants"], functional["killed"], functional["survived"], functional["equivalent"]) == (5, 2, 2, 1)
    # One real survivor and one mutant no test reached, among the five run.
    assert functional["survival"] == 2 / 5
    assert cmine["mutants"] == 2 and cmine["survival"] == 0.0  # a mutant not run counts neither way


def test_patterns_select_a_scoped_modules_functions_only():
    patterns = mutation._patterns(("miestim/cmine.py", "examples/sentiment/train.py"))
    assert patterns[0] == "miestim.cmine.*__mutmut_*"
    assert "examples.sentiment.train.x\u01c1Trainer\u01c1_stage2__mutmut_*" in patterns
    assert "examples.sentiment.train.x__keep_rows__mutmut_*" in patterns
    assert len(patterns) == 1 + len(mutation.FUNCTIONS["examples/sentiment/train.py"])


def test_an_earlier_records_other_modules_are_kept(tmp_path):
    record = tmp_path / "mutation.json"
    survivor = {"mutant": "miestim.cmine.x_f__mutmut_1", "file": "miestim/cmine.py", "status": "survived"}
    earlier = {
        "meta": {"command": "earlier run", "date": "d", "seconds": 5},
        "modules": [{"module": "miestim/cmine.py"}, {"module": "miestim/heldout.py"}],
    }
    record.write_text(json.dumps(earlier | {"survivors": [survivor, survivor | {"file": "miestim/heldout.py"}]}))
    meta: dict = {}
    rows, survivors = mutation._merge_earlier(record, ("miestim/heldout.py",), meta)
    assert rows == [{"sample": 1.0, "module": "miestim/cmine.py"}] and survivors == [survivor]
    assert meta["earlier"] == [{"command": "earlier run", "date": "d", "seconds": 5, "modules": ["miestim/cmine.py"]}]


def test_a_sample_keeps_the_mutants_numbered_with_its_first_digits():
    (pattern,) = mutation._patterns(("miestim/cmine.py",), 0.3)
    names = [f"miestim.cmine.x\u01c1CMINE\u01c1forward__mutmut_{k}" for k in range(1, 101)]
    kept = [int(n.rsplit("_", 1)[1]) for n in names if fnmatch.fnmatchcase(n, pattern)]
    assert kept == [k for k in range(1, 101) if k % 10 in (0, 1, 2)]
    assert not fnmatch.fnmatchcase("miestim.cmine_fit.x_fit__mutmut_1", pattern)
