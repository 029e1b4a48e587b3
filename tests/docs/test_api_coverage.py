"""Every ``miestim`` name a guide page tells users to use exists and has an entry on an API page.

The guide pages are ``docs/*.md`` (not ``docs/benchmarks/`` nor ``docs/api/``). A name is a dotted
path starting with ``miestim.``: the start of an inline code span (```miestim.critics.KSGCritic```,
```miestim.estimate_mi(...)```), a ``miestim.a.b`` reference in a fenced ``python`` block, or a
name a block imports (``from miestim.tasks import StudentTTask`` names ``miestim.tasks.StudentTTask``;
after ``import miestim.gaussian as g``, ``g.correlated_mi`` names ``miestim.gaussian.correlated_mi``).

The rule for "has an entry", checked on the source of ``docs/api/*.md`` (no site build):

- the object the name resolves to is the object of some ``::: target`` directive (``miestim.Critic``
  documents ``miestim.critics.Critic``: one object, two import paths); or
- its parent is a class that has an entry, and the name is a public attribute of the class's own
  with a docstring (a class entry renders those); or
- its parent is a module whose directive renders members (no ``members: false``), and the name is
  in the module's ``__all__``.
"""

from __future__ import annotations

import importlib
import inspect
import re
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GUIDES = sorted(DOCS.glob("*.md"))  # top level only: not docs/benchmarks/ nor docs/api/

_NAME = r"miestim(?:\.[A-Za-z_]\w*)+"
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+-]*)")
_SPAN = re.compile(rf"(?<!`)`({_NAME})")
_CODE_NAME = re.compile(rf"(?<![\w.])({_NAME})")
_FROM_IMPORT = re.compile(r"^\s*from\s+(miestim(?:\.\w+)*)\s+import[ \t]+(\([^)]*\)|[\w \t,]+)", re.MULTILINE)
_IMPORT_AS = re.compile(r"^\s*import\s+(miestim(?:\.\w+)*)\s+as\s+(\w+)", re.MULTILINE)
_DIRECTIVE = re.compile(r"^:::\s+([\w.]+)[ \t]*\n((?:[ \t]+\S.*\n?)*)", re.MULTILINE)
# Values of these types are shared by unrelated names (interned), so identity says nothing.
_SCALARS = (bool, int, float, str, bytes, type(None))


def split_fences(text: str) -> tuple[str, str]:
    """(prose, python code) of a page: the text outside fenced blocks, and the ``python`` blocks' bodies."""
    prose, code, fence, lang = [], [], None, ""
    for line in text.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence, lang = match[1], match[2]
        elif fence is not None and line.strip().startswith(fence):
            fence = None
        elif fence is None:
            prose.append(line)
        elif lang in ("python", "py"):
            code.append(line)
    return "\n".join(prose), "\n".join(code)


def guide_names(text: str) -> set[str]:
    """The ``miestim.*`` names a page tells its reader to use."""
    prose, code = split_fences(text)
    names = set(_SPAN.findall(prose)) | set(_CODE_NAME.findall(code))
    for module, imported in _FROM_IMPORT.findall(code):
        names |= {f"{module}.{name.strip()}" for name in imported.strip("()").split(",") if name.strip()}
    for module, alias in _IMPORT_AS.findall(code):
        names |= {f"{module}.{attribute}" for attribute in re.findall(rf"(?<![\w.]){alias}\.(\w+)", code)}
    return names


def resolve(name: str) -> object:
    """What ``name`` is at run time: an attribute wins over a submodule of the same name, as in Python."""
    parts = name.split(".")
    obj: object = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=2):
        obj = getattr(obj, part) if hasattr(obj, part) else importlib.import_module(".".join(parts[:i]))
    return obj


@cache
def directives() -> tuple[tuple[object, bool], ...]:
    """(object, renders its members) for every ``:::`` directive of ``docs/api/*.md``."""
    found = []
    for page in sorted((DOCS / "api").glob("*.md")):
        for target, options in _DIRECTIVE.findall(page.read_text(encoding="utf-8")):
            found.append((resolve(target), not re.search(r"members:\s*false", options)))
    return tuple(found)


def is_rendered_member(parent: object, attribute: str) -> bool:
    """Whether a ``:::`` entry of ``parent`` renders ``parent.attribute`` among its members."""
    if attribute.startswith("_"):
        return False
    if isinstance(parent, ModuleType):
        return attribute in getattr(parent, "__all__", ())
    if inspect.isclass(parent) and attribute in vars(parent):
        return bool(inspect.getdoc(vars(parent)[attribute]))
    return False


def has_entry(name: str) -> bool:
    """Whether ``name`` has an API entry, by the rule of this module's docstring."""
    obj = resolve(name)
    if not isinstance(obj, _SCALARS) and any(obj is target for target, _ in directives()):
        return True
    parent_name, _, attribute = name.rpartition(".")
    parent = resolve(parent_name)
    renders = any(parent is target and members for target, members in directives())
    renders = renders or (inspect.isclass(parent) and has_entry(parent_name))
    return renders and is_rendered_member(parent, attribute)


GUIDE_NAMES = sorted({(name, page.name) for page in GUIDES for name in guide_names(page.read_text(encoding="utf-8"))})


def test_the_scan_finds_the_three_forms():
    text = (
        "Use `miestim.critics.KSGCritic` or `miestim.estimate_mi(x, y)`; not ``miestim.`` nor miestim.bare.\n"
        "```python\nfrom miestim.tasks import StudentTTask, student_t_tail_mi\nimport miestim.gaussian as g\n"
        "print(g.rho_for_mi(2, 1.0))\n"
        "task = miestim.gaussian.CorrelatedGaussianTask(2, 1.0)\n```\n"
        "```bash\npython -c 'import miestim.shell_only'\n```\n"
    )
    assert guide_names(text) == {
        "miestim.critics.KSGCritic",
        "miestim.estimate_mi",
        "miestim.tasks",  # the module of the import is a name used too
        "miestim.tasks.StudentTTask",
        "miestim.tasks.student_t_tail_mi",
        "miestim.gaussian",
        "miestim.gaussian.CorrelatedGaussianTask",
        "miestim.gaussian.rho_for_mi",
    }


def test_the_rule_refuses_names_without_an_entry():
    assert has_entry("miestim.critics.GaussianCopulaCritic")  # its own directive
    assert has_entry("miestim.critics.Critic")  # the object of `::: miestim.Critic`
    assert has_entry("miestim.distributed.rank_slice")  # in __all__ of a module rendered with members
    assert not has_entry("miestim.critics.mlp")  # public, but no page has an entry for it
    assert not has_entry("miestim.gaussian._closed_form")  # private: a members: false page renders nothing
    with pytest.raises(ImportError):
        resolve("miestim.crossfit.Budget")  # a path the module moves removed (CHANGELOG.md)


def test_the_guides_name_something():
    assert len(GUIDE_NAMES) > 20, "the scan found almost no names: is the pattern broken?"


@pytest.mark.parametrize(("name", "page"), GUIDE_NAMES, ids=[f"{page}:{name}" for name, page in GUIDE_NAMES])
def test_every_name_a_guide_uses_resolves_and_has_an_api_entry(name, page):
    try:
        resolve(name)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"docs/{page} names {name}, which does not exist ({error}): a stale path?")
    assert has_entry(name), f"docs/{page} names {name}, which no docs/api/*.md page documents"
