"""help() that explains: every public function and class documents every parameter.

The nbdev way (fastcore's docments): a short comment after each parameter, which `show_doc`
renders as a table on the site and `fastcore.docments.docments(obj, full=True)` returns in
Python. Public means listed in its module's `__all__`; classes are checked through `__init__`
(their constructor, not torch's `forward`); `self`, `*args` and `**kwargs` are excepted.
"""

import importlib
import inspect
import pkgutil

import pytest

import interpcourse

MODULES = sorted(m.name for m in pkgutil.iter_modules(interpcourse.__path__) if m.name[0] != "_")


def public_callables():
    "(module.name, object) for every function and class in every module's `__all__`."
    out = []
    for name in MODULES:
        mod = importlib.import_module(f"interpcourse.{name}")
        for n in getattr(mod, "__all__", []):
            obj = getattr(mod, n)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                out.append((f"{name}.{n}", obj))
    return out


def undocumented(obj) -> list[str]:
    "The parameters of `obj` (a class: its `__init__`) that have no docment."
    from fastcore.docments import docments

    target = obj.__init__ if inspect.isclass(obj) else obj
    if target is object.__init__:
        return []
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    params = [p for p in sig.parameters.values() if p.name != "self" and p.kind not in skip]
    if not params:
        return []
    docs = docments(obj, full=True)
    return [p.name for p in params if not (docs.get(p.name) or {}).get("docment")]


def test_every_module_has_public_names():
    assert MODULES and all(
        getattr(importlib.import_module(f"interpcourse.{m}"), "__all__", None) for m in MODULES
    )


@pytest.mark.parametrize("name,obj", public_callables(), ids=[n for n, _ in public_callables()])
def test_parameters_documented(name, obj):
    missing = undocumented(obj)
    assert not missing, f"{name}: no docment for {', '.join(missing)} (a comment after each one)"
