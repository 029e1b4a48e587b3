"""Griffe extension: document ``miestim.decompose`` and ``miestim.estimate_cmi`` under those names.

``miestim/__init__.py`` imports the function ``decompose`` from the submodule of the same name,
so at run time ``miestim.decompose`` is the function. Griffe reads the source statically and
keeps one member per name; it gives the name to the submodule (every path through it, such as
``miestim.decompose.Decomposition``, must keep working), so ``::: miestim.decompose`` would render
the submodule and the function could only be rendered as ``miestim.decompose.decompose`` (its
heading anchor, its link target, its entry in the objects inventory).

This extension adds, for each exported name of the package that is a submodule holding a
function of that same name, a second member: the key ``decompose()``, an alias named
``decompose`` whose path is ``miestim.decompose``. An API page renders it with
``::: miestim.decompose()``; the heading, anchor and inventory entry are ``miestim.decompose``.
"""

from __future__ import annotations

from typing import Any

import griffe


def shadowed_functions(pkg: griffe.Module) -> dict[str, griffe.Function]:
    """``{name: function}`` for each exported submodule of ``pkg`` that holds a function of its own name."""
    found = {}
    for name in pkg.exports or ():
        member = pkg.members.get(name)
        if member is None or member.is_alias or not member.is_module:
            continue
        inner = member.members.get(name)
        if inner is not None and not inner.is_alias and inner.is_function:
            found[name] = inner
    return found


class FunctionsOverSubmodules(griffe.Extension):
    """Make ``PACKAGE.NAME()`` the function that the same-named submodule ``PACKAGE.NAME`` holds."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        for name, function in shadowed_functions(pkg).items():
            pkg.set_member(f"{name}()", griffe.Alias(name, function, parent=pkg))
