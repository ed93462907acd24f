"""The package layout shows the flow of data through finabsa, and stays readable.

Stages, earliest first: foundation (errors, constants) -> data -> tasks -> config -> models -> reports -> training
-> inference -> study -> interface (CLI, the package's public API). A module may import its own stage and earlier
ones, never a later one, and the import graph has no cycle. Checked on the source with ``ast``, so that an import
inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "finabsa"

#: Stage of each module or subpackage (the longest matching prefix wins).
STAGES = {
    "finabsa.errors": 0,
    "finabsa.constants": 0,
    "finabsa.run_layout": 0,
    "finabsa.data": 1,
    "finabsa.tasks": 2,
    "finabsa.config": 3,
    "finabsa.models": 4,
    "finabsa.reports": 5,
    "finabsa.training": 6,
    "finabsa.inference": 7,
    "finabsa.study": 8,
    "finabsa.cli": 9,
    "finabsa.__main__": 9,
    "finabsa": 9,
}
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["finabsa", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """finabsa modules imported anywhere in a module (relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in known else target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m == "finabsa" or m.startswith("finabsa.")}


def _stage(module: str) -> int:
    best = max((prefix for prefix in STAGES if module == prefix or module.startswith(prefix + ".")), key=len)
    return STAGES[best]


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: {m for m in _imports(name, path, known) if m in known and m != name}
            for name, path in modules.items()}


def test_no_module_imports_a_later_stage():
    upward = [f"{module} (stage {_stage(module)}) imports {target} (stage {_stage(target)})"
              for module, targets in _graph().items() for target in sorted(targets)
              if _stage(target) > _stage(module)]
    assert not upward, "imports against the flow:\n" + "\n".join(upward)


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    # A package's __init__ re-exports its own submodules; that is containment, not a cycle.
    edges = {m: {t for t in targets if not t.startswith(m + ".")} for m, targets in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_every_module_has_a_stage():
    assert all(_stage(module) is not None for module in _modules())


@pytest.mark.parametrize("module", sorted(_modules()))
def test_functions_fit_on_one_screen(module):
    """No function over 60 lines; argument tables (``build_parser``) are declarative and exempt."""
    tree = ast.parse(_modules()[module].read_text(encoding="utf-8"))
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name != "build_parser"
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{module}: " + ", ".join(long)


def test_the_layering_test_sees_an_upward_import(tmp_path):
    """The checker itself: a data module importing training is reported."""
    source = tmp_path / "bad.py"
    source.write_text("from ..training import train\n")
    found = _imports("finabsa.data.bad", source, set(_modules()))
    assert "finabsa.training" in found and _stage("finabsa.training") > _stage("finabsa.data.bad")


def _owners() -> dict[str, set[str]]:
    """Each task name and head kind -> the modules that may compare a string with it: the module (or package)
    that registers it."""
    from finabsa.models.heads import _REGISTRY as HEADS
    from finabsa.tasks.base import _REGISTRY as TASKS

    owners: dict[str, set[str]] = {}
    for name, cls in [*TASKS.items(), *HEADS.items()]:
        module = cls.__module__
        package = module.rsplit(".", 1)[0]  # a task split into a package of its own owns the whole package
        owned = {module} | ({package} if package not in ("finabsa.tasks", "finabsa.models.heads") else set())
        owners.setdefault(name, set()).update(owned)
    return owners


def _compared_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants a comparison tests against (``x == "joint"``, ``kind in ("seq2seq", ...)``)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        for operand in [node.left, *node.comparators]:
            items = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
            found += [(node.lineno, item.value) for item in items
                      if isinstance(item, ast.Constant) and isinstance(item.value, str)]
    return found


def test_no_string_comparison_on_a_head_kind_or_task_name_outside_its_own_module():
    """Only the module that registers a task or a head may compare a string with its name: everything else asks
    the task or the head plug-in (``Task.render_answer``, ``head_for(spec).generates``...)."""
    owners = _owners()
    offences = []
    for module, path in _modules().items():
        for line, value in _compared_strings(ast.parse(path.read_text(encoding="utf-8"))):
            if value in owners and not any(module == o or module.startswith(o + ".") for o in owners[value]):
                offences.append(f"{path.relative_to(PACKAGE.parent)}:{line} compares with '{value}'")
    assert not offences, "\n".join(offences)


def test_the_comparison_check_sees_one(tmp_path):
    assert _compared_strings(ast.parse("if head.kind == 'joint' or name in ('sentiment', 'x'):\n    pass\n")) == [
        (1, "joint"), (1, "sentiment"), (1, "x")]
