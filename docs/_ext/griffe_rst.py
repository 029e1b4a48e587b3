"""Griffe extension: turn the reStructuredText bits of miestim's docstrings into Markdown.

The docstrings are Google style (``Args:``, ``Returns:``) but write math and cross-references
the Sphinx way. mkdocstrings renders docstrings as Markdown, so before they are parsed this
extension rewrites, in every docstring of the package:

- ``.. math::`` blocks into ``$$ ... $$`` display blocks for ``pymdownx.arithmatex`` (one block
  per blank-line-separated equation; a block with ``&`` or ``\\`` is wrapped in
  ``\\begin{aligned}``, as Sphinx wraps it in ``split``);
- ``:math:`...``` roles into ``\\( ... \\)`` inline math;
- a singular ``Example:`` heading into ``Examples:``, which griffe parses as doctest code;
- ``:func:`` / ``:class:`` / ``:meth:`` / ``:attr:`` / ``:data:`` / ``:mod:`` roles into
  autorefs links ``[`name`][identifier]`` when the target is rendered on an API page, and into
  plain code otherwise (private helpers, numpy, torch), so that ``mkdocs build --strict``
  never sees a dangling reference.

The rendered identifiers are read from the ``::: identifier`` lines of ``docs/api/*.md``; an
object documented there under a public path (``miestim.DV``) is linked from any spelling of
its path (``~miestim.DV``, ``DV`` inside ``miestim.estimators``, the canonical
``miestim.estimators.simple.DV``). Only the docstrings are changed, and only in memory.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import griffe

API_DIR = Path(__file__).resolve().parent.parent / "api"

_MATH_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<inline>.*)$")
_MATH_ROLE = re.compile(r":math:`(?P<tex>[^`]+)`")
_XREF_ROLE = re.compile(r":(?P<role>func|class|meth|attr|data|mod|obj|exc):`(?P<target>[^`]+)`")
_EXAMPLE_HEADING = re.compile(r"^Example:[ \t]*$", re.MULTILINE)
_IDENTIFIER = re.compile(r"^:::\s+(?P<identifier>[\w.]+)", re.MULTILINE)


def rendered_identifiers(api_dir: Path = API_DIR) -> list[str]:
    """Every ``::: identifier`` of the API pages, in page order."""
    found: list[str] = []
    for page in sorted(api_dir.glob("*.md")):
        found += _IDENTIFIER.findall(page.read_text(encoding="utf-8"))
    return found


def convert_math_blocks(text: str) -> str:
    """Replace each ``.. math::`` directive (and its indented body) by ``$$`` display blocks."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _MATH_DIRECTIVE.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        body = [match["inline"]] if match["inline"].strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            body.append(lines[i])
            i += 1
        equations = [eq.strip("\n") for eq in re.split(r"\n[ \t]*\n", textwrap.dedent("\n".join(body)).strip("\n")) if eq.strip()]
        for equation in equations:
            eq_lines = [line.rstrip() for line in equation.splitlines()]
            if ("&" in equation or r"\\" in equation) and r"\begin{" not in equation:
                eq_lines = [r"\begin{aligned}"] + eq_lines + [r"\end{aligned}"]
            if out and out[-1].strip():
                out.append("")
            out += [indent + "$$"] + [indent + line if line else "" for line in eq_lines] + [indent + "$$", ""]
    return "\n".join(out)


def convert_math_roles(text: str) -> str:
    """``:math:`x``` -> ``\\(x\\)``."""
    return _MATH_ROLE.sub(lambda m: r"\(" + m["tex"] + r"\)", text)


class RstToMarkdown(griffe.Extension):
    """Rewrite math and cross-reference roles in every docstring of the loaded package."""

    def __init__(self, api_dir: str | None = None) -> None:
        super().__init__()
        self.api_dir = Path(api_dir) if api_dir else API_DIR
        self.canonical: dict[str, str] = {}  # canonical path -> rendered identifier
        self.class_prefixes: dict[str, str] = {}  # canonical class path -> rendered identifier
        self.by_name: dict[str, list[str]] = {}  # short name -> rendered identifiers

    # ------------------------------------------------------------------ griffe hook
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        self._index(pkg, loader)
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = self.convert(obj.docstring.value, obj, loader)

    # ------------------------------------------------------------------ identifiers
    def _lookup(self, path: str, loader: griffe.GriffeLoader) -> griffe.Object | None:
        try:
            obj = loader.modules_collection.get_member(path)
        except (KeyError, ValueError, AttributeError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
        try:
            return obj.final_target if obj.is_alias else obj
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None

    def _index(self, pkg: griffe.Module, loader: griffe.GriffeLoader) -> None:
        for identifier in rendered_identifiers(self.api_dir):
            if not identifier.startswith(pkg.name):
                continue
            obj = self._lookup(identifier, loader)
            if obj is None:
                continue
            self.canonical.setdefault(obj.path, identifier)
            self.canonical.setdefault(identifier, identifier)
            if obj.is_class:
                self.class_prefixes[obj.path] = identifier
                self.class_prefixes[identifier] = identifier
            self.by_name.setdefault(identifier.rsplit(".", 1)[-1], []).append(identifier)

    def _identifier_of(self, obj: griffe.Object) -> str | None:
        if obj.path in self.canonical:
            return self.canonical[obj.path]
        parent = obj.parent
        # A documented, public member of a rendered class is rendered under that class.
        if parent is not None and parent.is_class and parent.path in self.class_prefixes:
            if obj.name.startswith("_") or obj.docstring is None:
                return None
            return f"{self.class_prefixes[parent.path]}.{obj.name}"
        return None

    def resolve(self, target: str, context: griffe.Object, loader: griffe.GriffeLoader) -> str | None:
        """The rendered identifier ``target`` refers to from ``context``'s docstring, or None."""
        target = target.lstrip("~.").removesuffix("()")
        candidates: list[str] = []
        if target.startswith(context.package.name + "."):
            candidates.append(target)
        else:
            scopes = [context] + ([context.parent] if context.parent is not None else []) + [context.module]
            for scope in scopes:
                if scope.is_class or scope.is_module:
                    candidates.append(f"{scope.path}.{target}")
                try:
                    candidates.append(scope.resolve(target))
                except (griffe.NameResolutionError, ValueError, KeyError, AttributeError):
                    pass
        for path in candidates:
            obj = self._lookup(path, loader)
            if obj is not None and (identifier := self._identifier_of(obj)) is not None:
                return identifier
        matches = self.by_name.get(target.rsplit(".", 1)[-1], []) if "." not in target else []
        return matches[0] if len(set(matches)) == 1 else None

    # ------------------------------------------------------------------ conversion
    def convert(self, text: str, context: griffe.Object, loader: griffe.GriffeLoader) -> str:
        text = convert_math_roles(convert_math_blocks(text))
        # Griffe reads "Examples:" as a section of ">>>" code, the singular as an admonition.
        text = _EXAMPLE_HEADING.sub("Examples:", text)

        def xref(match: re.Match[str]) -> str:
            raw = match["target"]
            shown = raw.lstrip("~").rsplit(".", 1)[-1] if raw.startswith("~") else raw
            identifier = self.resolve(raw, context, loader)
            return f"[`{shown}`][{identifier}]" if identifier else f"`{shown}`"

        return _XREF_ROLE.sub(xref, text)


def _walk(obj: griffe.Object):
    """The object and all its non-alias members, recursively."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)
