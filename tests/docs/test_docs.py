"""The documentation site: it builds under ``--strict``, its code runs, and the API has docstrings.

- ``mkdocs build --strict`` must succeed (a broken link, anchor or API reference fails it);
- every fenced ``python`` block of ``docs/**/*.md`` and ``examples/README.md`` runs, the blocks
  of one page in order and in one namespace (a block preceded by ``<!-- skip-snippet -->`` is
  left out: only for code that needs real data or a GPU);
- every public function and class has a docstring, with its math where it computes a quantity;
- every public name is rendered on an API page;
- every formula of the built site is valid KaTeX (when ``node`` and a local KaTeX are installed).
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import miestim
import miestim.functional
import miestim.gaussian
import miestim.sampling
import miestim.validation

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PUBLIC_MODULES = (miestim, miestim.functional, miestim.gaussian, miestim.sampling, miestim.validation)

_HOOKS_SPEC = importlib.util.spec_from_file_location("miestim_docs_hooks", DOCS / "_ext" / "hooks.py")
_hooks = importlib.util.module_from_spec(_HOOKS_SPEC)
_HOOKS_SPEC.loader.exec_module(_hooks)
katex_source = _hooks.katex_source

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)")
_SKIP = re.compile(r"^\s*<!--\s*skip-snippet\b.*-->\s*$")


# ---------------------------------------------------------------------------- the build
@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    return out


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


def test_site_serves_its_own_math_renderer_when_katex_is_installed(site):
    if katex_source() is None:
        pytest.skip("no local KaTeX (libjs-katex); formulas stay as TeX source")
    for asset in ("assets/katex/katex.min.js", "assets/katex/katex.min.css", "assets/katex/contrib/auto-render.js"):
        assert (site / asset).is_file(), asset


def test_every_formula_is_valid_katex(site, tmp_path):
    node, katex = shutil.which("node"), katex_source()
    if node is None or katex is None:
        pytest.skip("node and a local KaTeX (libjs-katex) are needed for the KaTeX syntax check")
    formulas = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for tag, body in re.findall(r'<(span|div) class="arithmatex">(.*?)</\1>', text, re.DOTALL):
            tex = html.unescape(body).strip()
            tex = tex[2:-2] if tex[:2] in ("\\(", "\\[") else tex
            formulas.append({"page": page.relative_to(site).as_posix(), "tex": tex, "display": tag == "div"})
    assert formulas
    (tmp_path / "formulas.json").write_text(json.dumps(formulas), encoding="utf-8")
    script = (
        "const katex = require(process.argv[1]);"
        "const items = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));"
        "const bad = [];"
        "for (const f of items) { try { katex.renderToString(f.tex, {displayMode: f.display, throwOnError: true}); }"
        " catch (e) { bad.push(f.page + ': ' + e.message); } }"
        "console.log(JSON.stringify(bad));"
    )
    proc = subprocess.run(
        [node, "-e", script, str(katex / "katex.min.js"), str(tmp_path / "formulas.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    bad = json.loads(proc.stdout)
    assert not bad, "\n".join(bad)


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
    for module in PUBLIC_MODULES for name in module.__all__
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
    parts = identifier.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(identifier)


def test_every_public_name_is_on_an_api_page():
    identifiers = []
    for page in sorted((DOCS / "api").glob("*.md")):
        identifiers += re.findall(r"^:::\s+([\w.]+)", page.read_text(encoding="utf-8"), re.MULTILINE)
    rendered = [_resolve(identifier) for identifier in identifiers]
    missing = [
        f"{module.__name__}.{name}" for module in PUBLIC_MODULES for name in module.__all__
        if not any(getattr(module, name) is obj for obj in rendered)
    ]
    assert not missing, f"not rendered on any docs/api page: {missing}"
