"""Every command that README.md and the docs tell a reader to run is accepted by its argument parser.

A command is found in a fenced code block or an inline code span: ``python -m benchmarks NAME ...``,
``python -m miestim validate ...`` (or ``miestim validate ...``) and ``python -m examples.sentiment
...`` (also under ``torchrun ... -m examples.sentiment``). Each is handed to its entry point's
``main`` with ``argparse`` stopped right after parsing, so nothing runs: a removed or misspelt
option fails here instead of in a reader's shell. The lines under generated tables quote the
commands of stored records, as they were run, and are not checked.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks import docs
from benchmarks.__main__ import main as benchmarks_main
from examples.sentiment.cli import main as sentiment_main
from miestim.cli import main as miestim_main

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*docs.pages(ROOT), ROOT / "CONTRIBUTING.md", ROOT / "examples" / "README.md"]

#: Where a command starts, and the entry point that parses the words after the match.
ENTRY_POINTS: dict[str, Callable[[list[str]], int]] = {
    r"python -m benchmarks\b": benchmarks_main,
    r"(?:python -m )?miestim (?=validate\b)": miestim_main,
    r"-m examples\.sentiment\b": sentiment_main,
}
_START = re.compile("|".join(f"(?P<e{i}>{pattern})" for i, pattern in enumerate(ENTRY_POINTS)))
_CODE = re.compile(r"```[^\n]*\n(?P<block>.*?)```|`(?P<span>[^`]+)`", re.DOTALL)


class Parsed(Exception):
    """Raised in place of running the command once its arguments parsed."""


def commands() -> list[tuple[str, str, int]]:
    """(page, command, entry point index) for every command of the pages, outside generated regions."""
    found = []
    for page in PAGES:
        text = docs._REGION.sub("", page.read_text(encoding="utf-8"))
        for code in _CODE.finditer(text):
            lines = (code["block"] or "").splitlines() if code["block"] is not None else [" ".join(code["span"].split())]
            for line in lines:
                line = re.split(r"\s+#|\s+[;&|]{1,2}\s+|\s*>\s*", line)[0]  # no comment, no second command, no redirection
                match = _START.search(line)
                if match:
                    index = int(next(k for k, v in match.groupdict().items() if v is not None)[1:])
                    found.append((page.relative_to(ROOT).as_posix(), line[match.start() :].strip(), index))
    return found


@pytest.fixture
def parse_only(monkeypatch: pytest.MonkeyPatch) -> None:
    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self: argparse.ArgumentParser, args=None, namespace=None):
        parse(self, args, namespace)
        raise Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)


def test_the_pages_hold_commands_of_every_entry_point():
    assert {index for _, _, index in commands()} == set(range(len(ENTRY_POINTS)))


@pytest.mark.parametrize(("page", "command", "index"), commands(), ids=lambda v: v if isinstance(v, str) else "")
def test_command_parses(page: str, command: str, index: int, parse_only: None, capsys: pytest.CaptureFixture[str]):
    entry = list(ENTRY_POINTS.values())[index]
    words = shlex.split(command)[len(shlex.split(_START.match(command)[0])) :]  # type: ignore[index]
    with pytest.raises((Parsed, SystemExit)) as stopped:
        entry(words)
    help_printed = stopped.type is SystemExit and stopped.value.code == 0  # "--help" exits 0 after printing
    assert stopped.type is Parsed or help_printed, f"{page}: `{command}` is refused by its parser: {capsys.readouterr().err.strip()}"


def test_a_misspelt_option_is_caught(parse_only: None):
    with pytest.raises(SystemExit):
        benchmarks_main(["auto", "--fols", "5"])  # not a prefix of any option: argparse accepts unique prefixes
