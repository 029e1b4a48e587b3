"""MkDocs hooks of the documentation build.

``<!-- include: PATH -->`` on a line of its own, in a page, is replaced by the file at
``PATH`` (relative to the repository root). Relative links in the included file are rebased
from the file's folder to the page's, so a link that works on the repository
(``examples/README.md`` -> ``../docs/guide.md``) also works on the site (``guide.md``); a link
to a file outside ``docs/`` is left as it is, and ``mkdocs build --strict`` reports it.

Math: pages carry TeX (``pymdownx.arithmatex``), typeset in the browser by KaTeX. KaTeX is
not part of this repository: after the build it is copied into ``site/assets/katex`` from
``$MIESTIM_KATEX_DIR`` or the Debian package ``libjs-katex`` (``/usr/share/javascript/katex``).
Without it the site still builds and shows the formulas as TeX source.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import shutil
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.katex")
KATEX_DIRS = (os.environ.get("MIESTIM_KATEX_DIR", ""), "/usr/share/javascript/katex")

_INCLUDE = re.compile(r"^<!--\s*include:\s*(?P<path>\S+)\s*-->[ \t]*$", re.MULTILINE)
_LINK = re.compile(r"(?P<open>\]\()(?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?(?P<title>\s+\"[^\"]*\")?\)")
_EXTERNAL = re.compile(r"^([a-z][a-z0-9+.-]*:|/)", re.IGNORECASE)


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


def katex_source() -> Path | None:
    """The first KaTeX installation found (a folder with katex.min.js), or None."""
    for folder in KATEX_DIRS:
        if folder and (Path(folder) / "katex.min.js").exists():
            return Path(folder)
    return None


def on_post_build(config, **kwargs):
    source = katex_source()
    if source is None:
        # info, not warning: --strict turns warnings into errors, and the site is complete without it.
        log.info("KaTeX not found (install libjs-katex or set MIESTIM_KATEX_DIR); formulas stay as TeX source.")
        return
    shutil.copytree(source, Path(config["site_dir"]) / "assets" / "katex", symlinks=False, dirs_exist_ok=True)
