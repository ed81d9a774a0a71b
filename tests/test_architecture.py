"""The layout's rules, read from every module's imports (ast, so function-level imports count too):
imports run one way, app → training → models; inside models, nets know nothing of the runtime or the studio;
no import cycles; the app imports no command-line module."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "training", "bench")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    found = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    found["app"] = ROOT / "app.py"
    return found


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` imports: `from a.b import c` counts as a.b.c when that is a module."""
    me = module_name(path) if path.name != "app.py" else "app"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                     for alias in node.names]
        else:
            continue
        found.update(n for n in names if n in modules and n != me)
    return found


MODULES = project_modules()
GRAPH = {name: imports_of(path, MODULES) for name, path in MODULES.items()}


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


RULES = [  # (importer package, imported package it must never reach)
    ("models", "training"), ("models", "app"), ("models", "bench"),
    ("training", "app"), ("training", "bench"),
    ("models.nets", "models.runtime"), ("models.nets", "models.studio"), ("models.nets", "models.registry"),
    ("models.nets", "models.api"), ("models.nets", "models.weights"),
    ("models.runtime", "models.studio"),
]


@pytest.mark.parametrize("importer, forbidden", RULES)
def test_imports_only_run_down(importer, forbidden):
    violations = sorted(f"{a} imports {b}" for a, targets in GRAPH.items() if under(a, importer)
                        for b in targets if under(b, forbidden))
    assert not violations, violations


def test_networks_import_only_networks():
    violations = sorted(f"{a} imports {b}" for a, targets in GRAPH.items() if under(a, "models.nets")
                        for b in targets if not under(b, "models.nets"))
    assert not violations, violations


def test_no_import_cycles():
    """Tarjan's strongly connected components over the explicit imports."""
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, cycles


def is_command_line_module(path: Path) -> bool:
    return "__name__ == \"__main__\"" in path.read_text() or "__name__ == '__main__'" in path.read_text()


def test_the_app_imports_no_command_line_module():
    clis = sorted(m for m in GRAPH["app"] if is_command_line_module(MODULES[m]))
    assert not clis, clis


def test_the_rules_see_real_imports():
    """The parser is not vacuous: known edges are found."""
    assert "models.registry" in GRAPH["models.runtime.saliency"]
    assert "models.nets.decoder" in GRAPH["models.nets.effsal"]
    assert "training.metrics.files" in GRAPH["training.evaluate_maps"]
