"""The decomposition page as a reader sees it: opened from disk in headless Chromium.

No TeX source is left in the visible text, every formula is an SVG with a size on the page
whose glyphs all resolve, and the page asks for nothing but files of the site.
"""

from __future__ import annotations

import re

import pytest

# TeX a reader should never see: the delimiters, and control words such as \sum or \mid.
_TEX_SOURCE = re.compile(r"\\[()\[\]]|\$\$|\\[A-Za-z]+")

# The prose of the page's article, without its code (which may hold backslashes of its own).
_VISIBLE_PROSE = """(() => {
  const article = document.querySelector("article");
  article.querySelectorAll("pre, code").forEach((code) => code.remove());
  return article.innerText;
})()"""

_FORMULAS = """(() => {
  const formulas = [...document.querySelectorAll("article .arithmatex")];
  const laidOut = (svg) => { const box = svg.getBoundingClientRect(); return box.width > 0 && box.height > 0; };
  const uses = [...document.querySelectorAll("article .arithmatex svg use")];
  return {
    formulas: formulas.length,
    typeset: formulas.filter((f) => f.querySelector("svg") !== null && laidOut(f.querySelector("svg"))).length,
    glyphs: uses.length,
    missing: uses.filter((u) => document.getElementById((u.getAttribute("xlink:href") || "").slice(1)) === null).length,
  };
})()"""


@pytest.fixture(scope="module")
def decomposition(site, chromium, screenshot, tmp_path_factory):
    """``(browser, session)`` with docs/decomposition.md's page loaded."""
    with screenshot.Chromium(chromium, profile=tmp_path_factory.mktemp("chromium-profile")) as browser:
        yield browser, browser.open((site / "decomposition.html").as_uri())


def test_no_tex_source_is_visible(decomposition):
    browser, session = decomposition
    prose = browser.evaluate(session, _VISIBLE_PROSE)
    assert "Specific terms can be negative" in prose  # the page's text was read
    assert not _TEX_SOURCE.findall(prose), f"TeX source on the page: {sorted(set(_TEX_SOURCE.findall(prose)))}"


def test_every_formula_is_a_laid_out_svg(decomposition):
    browser, session = decomposition
    found = browser.evaluate(session, _FORMULAS)
    assert found["formulas"] >= 20, found  # the table of terms and the text around it
    assert found["typeset"] == found["formulas"], found
    assert found["glyphs"] > 0 and found["missing"] == 0, found


def test_the_page_asks_for_nothing_but_its_own_files(decomposition):
    browser, _ = decomposition
    outside = [url for url in browser.requests if not url.startswith(("file:", "data:", "about:"))]
    assert browser.requests and not outside, outside
