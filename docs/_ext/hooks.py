"""MkDocs hooks of the documentation build.

``<!-- include: PATH -->`` on a line of its own, in a page, is replaced by the file at
``PATH`` (relative to the repository root). Relative links in the included file are rebased
from the file's folder to the page's, so a link that works on the repository
(``examples/README.md`` -> ``../docs/guide.md``) also works on the site (``guide.md``); a link
to a file outside ``docs/`` is left as it is, and ``mkdocs build --strict`` reports it.

Math: pages and docstrings carry TeX, which ``pymdownx.arithmatex`` (generic mode) leaves in
``<span class="arithmatex">\\(...\\)</span>`` and ``<div class="arithmatex">\\[...\\]</div>``.
Each formula is typeset here, at build time, into an SVG by MathJax running in-process
(``quickjax``, from the ``docs`` extra, in an embedded QuickJS engine): the SVG carries its
glyphs as paths, so a page needs no script, no font file and no network to show its math.
A formula MathJax cannot typeset (a TeX error or an undefined macro) is logged as a warning,
which fails ``mkdocs build --strict``.
"""

from __future__ import annotations

import functools
import html
import logging
import posixpath
import re
from pathlib import Path

from quickjax import MathJaxRenderer

log = logging.getLogger("mkdocs.hooks.math")

_INCLUDE = re.compile(r"^<!--\s*include:\s*(?P<path>\S+)\s*-->[ \t]*$", re.MULTILINE)
_LINK = re.compile(r"(?P<open>\]\()(?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?(?P<title>\s+\"[^\"]*\")?\)")
_EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|/)", re.IGNORECASE)
_FORMULA = re.compile(r'<(?P<tag>span|div) class="arithmatex">(?P<body>.*?)</(?P=tag)>', re.DOTALL)
_DELIMITERS = {"\\(": "\\)", "\\[": "\\]"}
# MathJax marks a TeX error with data-mjx-error (its message in <title>) and an undefined macro in red.
_TEX_ERROR = re.compile(r'data-mjx-error="(?P<message>[^"]*)"')
_UNDEFINED = re.compile(r'fill="red"[^>]*data-latex="(?P<macro>[^"]*)"')


def rebase_links(text: str, source: Path, page_dir: str, docs_dir: Path) -> str:
    """Rewrite relative Markdown links of ``text`` (read from ``source``) to be relative to ``page_dir`` in ``docs_dir``."""

    def rebase(match: re.Match[str]) -> str:
        target = match["target"]
        if _EXTERNAL.match(target):
            return match[0]
        resolved = (source.parent / target).resolve()
        try:
            inside = resolved.relative_to(docs_dir.resolve()).as_posix()
        except ValueError:
            return match[0]
        new = posixpath.relpath(inside, page_dir or ".")
        return f"{match['open']}{new}{match['anchor'] or ''}{match['title'] or ''})"

    return _LINK.sub(rebase, text)


def on_page_markdown(markdown, page, config, files, **kwargs):
    root = Path(config["config_file_path"]).resolve().parent
    docs_dir = Path(config["docs_dir"])
    page_dir = posixpath.dirname(page.file.src_uri)

    def include(match: re.Match[str]) -> str:
        source = root / match["path"]
        return rebase_links(source.read_text(encoding="utf-8"), source, page_dir, docs_dir)

    return _INCLUDE.sub(include, markdown)


@functools.cache
def _renderer() -> MathJaxRenderer:
    return MathJaxRenderer()  # one JavaScript context (about 0.3 s to start) for the whole build


def typeset(tex: str, *, display: bool) -> tuple[str, str | None]:
    """``(svg, error)``: the SVG MathJax typesets from ``tex``, and what went wrong (None if nothing)."""
    svg = _renderer().render(tex, display=display)
    error = _TEX_ERROR.search(svg) or _UNDEFINED.search(svg)
    problem = html.unescape(error[1]) if error else None
    # The TeX source is the formula's accessible name (MathJax gives the SVG role="img" and no label).
    return svg.replace("<svg ", f'<svg aria-label="{html.escape(tex)}" ', 1), problem


def typeset_formulas(content: str, where: str) -> str:
    """Replace the TeX of every arithmatex element of ``content`` by its SVG; log a warning for each error."""

    def replace(match: re.Match[str]) -> str:
        tex = html.unescape(match["body"]).strip()
        if tex[:2] in _DELIMITERS and tex.endswith(_DELIMITERS[tex[:2]]):
            tex = tex[2:-2].strip()
        display = match["tag"] == "div"
        svg, problem = typeset(tex, display=display)
        if problem is not None:
            log.warning("%s: MathJax cannot typeset %r: %s", where, tex, problem)
        inner = f'<span class="math-display">{svg}</span>' if display else svg
        return f'<{match["tag"]} class="arithmatex">{inner}</{match["tag"]}>'

    return _FORMULA.sub(replace, content)


def on_page_content(content, page, config, files, **kwargs):
    return typeset_formulas(content, page.file.src_uri)
