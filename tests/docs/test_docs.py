"""The documentation site: it builds under ``--strict``, its code runs, and the API has docstrings.

- ``mkdocs build --strict`` must succeed (a broken link, anchor or API reference fails it);
- every fenced ``python`` block of ``docs/**/*.md`` and ``examples/README.md`` runs, the blocks
  of one page in order and in one namespace (a block preceded by ``<!-- skip-snippet -->`` is
  left out: only for code that needs real data or a GPU);
- every public function and class has a docstring, with its math where it computes a quantity;
- every public name is rendered on an API page;
- every formula of the built site is typeset (SVG at build time; a TeX error fails the build).

``test_rendered_math.py`` reads a page as a reader sees it, in headless Chromium.
"""

from __future__ import annotations

import html
import importlib
import inspect
import logging
import re
from pathlib import Path

import pytest
import torch

import miestim
import miestim.functional
import miestim.gaussian
import miestim.sampling
import miestim.tasks
import miestim.validation

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PUBLIC_MODULES = (miestim, miestim.functional, miestim.gaussian, miestim.sampling, miestim.tasks, miestim.validation)

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)")
_SKIP = re.compile(r"^\s*<!--\s*skip-snippet\b.*-->\s*$")


# ---------------------------------------------------------------------------- the build
def test_site_builds_strict(site):
    for page in ("index.html", "guide.html", "decomposition.html", "sentiment.html", "api/miestim.html"):
        assert (site / page).is_file(), page


def test_sentiment_page_includes_the_example_readme(site):
    text = (site / "sentiment.html").read_text(encoding="utf-8")
    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    title = re.search(r"^# (.+)$", readme, re.MULTILINE).group(1)
    heading = re.search(r"<h1[^>]*>(.*?)<", text, re.DOTALL)
    assert heading and html.unescape(heading.group(1)).strip() == title
    assert "<!-- include:" not in text


def test_api_pages_hold_no_raw_restructuredtext(site):
    for page in sorted((site / "api").glob("*.html")):
        text = page.read_text(encoding="utf-8")
        assert ".. math::" not in text, page.name
        assert not re.search(r":(math|func|class|meth|mod|attr|data):`", text), page.name
        assert 'class="arithmatex"' in text, page.name


def test_site_loads_nothing_from_the_network(site):
    text = (site / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", text), "an asset is loaded from the network"


def test_every_formula_is_typeset_at_build_time(site):
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for _tag, body in re.findall(r'<(span|div) class="arithmatex">(.*?)</\1>', text, re.DOTALL):
            assert "<svg " in body and "\\(" not in body and "\\[" not in body, f"{page.relative_to(site)}: {body[:200]}"


def test_typesetting_keeps_the_tex_as_the_accessible_name(hooks):
    out = hooks.typeset_formulas('<p>a <span class="arithmatex">\\(x &lt; y\\)</span></p>', "page.md")
    assert out.startswith('<p>a <span class="arithmatex"><svg aria-label="x &lt; y" ') and "\\(" not in out
    block = hooks.typeset_formulas('<div class="arithmatex">\\[\\sum_i x_i\\]</div>', "page.md")
    assert block.startswith('<div class="arithmatex"><span class="math-display"><svg ')


@pytest.mark.parametrize(("tex", "problem"), [("\\frac{a", "Missing close brace"), ("\\nosuchmacro x", "\\nosuchmacro")])
def test_a_formula_mathjax_cannot_typeset_fails_the_strict_build(hooks, caplog, tex, problem):
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.math"):
        hooks.typeset_formulas(f'<span class="arithmatex">\\({html.escape(tex)}\\)</span>', "page.md")
    assert [r.levelno for r in caplog.records] == [logging.WARNING]  # --strict turns a warning into a failure
    assert "page.md" in caplog.text and problem in caplog.text


# ---------------------------------------------------------------------------- snippets
def extract_python_blocks(text: str) -> list[tuple[int, str]]:
    """``(line number, code)`` of each fenced python block not preceded by a skip marker."""
    lines = text.splitlines()
    blocks: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:])
            i += 1
        i += 1
        previous = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        if match["lang"] in ("python", "py") and not _SKIP.match(previous):
            blocks.append((start + 1, "\n".join(body) + "\n"))
    return blocks


def _pages_with_snippets() -> list[Path]:
    pages = sorted(DOCS.rglob("*.md")) + [ROOT / "examples" / "README.md"]
    return [p for p in pages if extract_python_blocks(p.read_text(encoding="utf-8"))]


def test_extractor_honours_the_skip_marker():
    text = "```python\na = 1\n```\n\n<!-- skip-snippet: needs a GPU -->\n```python\nb = 2\n```\n```bash\nls\n```\n"
    assert extract_python_blocks(text) == [(1, "a = 1\n")]


@pytest.mark.parametrize("page", _pages_with_snippets(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_snippets_run(page, monkeypatch):
    monkeypatch.chdir(ROOT)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the snippets are small; one thread avoids oversubscribing a busy runner
    namespace: dict = {"__name__": "__docs__"}
    try:
        for line, code in extract_python_blocks(page.read_text(encoding="utf-8")):
            where = f"{page.relative_to(ROOT)}:{line}"
            try:
                exec(compile(code, where, "exec"), namespace)  # noqa: S102 - the documentation's own code
            except Exception as err:
                raise AssertionError(f"the snippet at {where} failed: {type(err).__name__}: {err}\n{code}") from err
    finally:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------- docstrings
PUBLIC_CALLABLES = {
    f"{module.__name__}.{name}": getattr(module, name)
    for module in PUBLIC_MODULES
    for name in module.__all__
    if inspect.isfunction(getattr(module, name)) or inspect.isclass(getattr(module, name))
}


# Public classes that compute no quantity of their own: result records, the critic base
# class (each concrete critic gives its formula), and the suite lookup.
NO_MATH = {"miestim.EstimateResult", "miestim.TrainingHistory", "miestim.Critic", "miestim.validation.get_suite"}


@pytest.mark.parametrize("path", sorted(PUBLIC_CALLABLES))
def test_public_callable_has_docstring(path):
    doc = inspect.getdoc(PUBLIC_CALLABLES[path])
    assert doc and doc.strip(), f"{path} has no docstring"
    if path not in NO_MATH:
        assert ".. math::" in doc or ":math:`" in doc, f"{path}'s docstring gives no formula"


def _resolve(identifier: str):
    """What ``identifier`` names at run time: an attribute wins over a submodule of the same name
    (``miestim.decompose`` is the function), as it does in Python."""
    parts = identifier.split(".")
    obj = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=2):
        obj = getattr(obj, part) if hasattr(obj, part) else importlib.import_module(".".join(parts[:i]))
    return obj


def test_every_public_name_is_on_an_api_page():
    identifiers = []
    for page in sorted((DOCS / "api").glob("*.md")):
        identifiers += re.findall(r"^:::\s+([\w.]+)", page.read_text(encoding="utf-8"), re.MULTILINE)
    rendered = [_resolve(identifier) for identifier in identifiers]
    missing = [
        f"{module.__name__}.{name}"
        for module in PUBLIC_MODULES
        for name in module.__all__
        if not any(getattr(module, name) is obj for obj in rendered)
    ]
    assert not missing, f"not rendered on any docs/api page: {missing}"
