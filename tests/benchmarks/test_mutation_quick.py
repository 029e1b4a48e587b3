"""``python -m benchmarks mutation``: the configuration it hands mutmut and the counts it records (the run itself
takes hours on 2 cores and is not part of the suite)."""

from benchmarks import mutation


def test_config_mutates_the_chosen_modules_with_their_tests():
    config = mutation._config(("miestim/functional/", "miestim/cmine.py"))
    sections = dict(part.split("=", 1) for part in config.split("\n") if "=" in part and not part.startswith(" "))
    assert config.startswith("[mutmut]\n") and set(sections) >= {"source_paths", "only_mutate", "pytest_add_cli_args_test_selection"}
    listed = [line.strip() for line in config.splitlines() if line.startswith("    ")]
    assert "miestim/functional/*" in listed and "miestim/cmine.py" in listed and "examples/sentiment/train.py" not in listed
    expected = set(mutation.MODULES["miestim/functional/"]) | set(mutation.MODULES["miestim/cmine.py"])
    assert expected <= set(listed) and "tests/example/test_train.py" not in listed


def test_summary_counts_survivors_net_of_equivalent_ones():
    rows = [
        {"file": "miestim/functional/dv.py", "status": "killed"},
        {"file": "miestim/functional/nwj.py", "status": "killed"},
        {"file": "miestim/functional/nwj.py", "status": "survived", "equivalent": "a message's wording"},
        {"file": "miestim/functional/js.py", "status": "survived", "equivalent": None},
        {"file": "miestim/functional/js.py", "status": "no tests"},
        {"file": "miestim/cmine.py", "status": "timeout"},
    ]
    functional, cmine = mutation._summary(rows, ("miestim/functional/", "miestim/cmine.py"))
    assert (functional["mutants"], functional["killed"], functional["survived"], functional["equivalent"]) == (5, 2, 2, 1)
    assert functional["survival"] == 1 / 4  # one real survivor among the four mutants a test reached
    assert cmine["mutants"] == 1 and cmine["survival"] == 0.0
