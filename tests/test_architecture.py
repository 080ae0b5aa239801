"""The shape of the code, as the README and the style guide promise it: the core never imports the
terminal's libraries, and imports run one way (no module waits on a module that waits on it)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tosmon"
TERMINAL = {"click", "rich"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every tosmon module and top-level library `path` imports, at its top or inside a function."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".strip(".")
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known and "." in target:
                target = target.rpartition(".")[
                    0
                ]  # `from tosmon.outputs.notify import mail` -> tosmon.outputs.notify.mail
            found.add(target if target in known else target.partition(".")[0])
    return found - {name}


def graph() -> dict[str, set[str]]:
    known = set(modules())
    return {name: imports(name, path, known) & known for name, path in modules().items()}


def test_core_never_imports_click_or_rich() -> None:
    known = set(modules())
    offenders = {
        name: sorted(imports(name, path, known) & TERMINAL)
        for name, path in modules().items()
        if not name.startswith("tosmon.cli")
    }
    assert {name: libs for name, libs in offenders.items() if libs} == {}


def cycles(edges: dict[str, set[str]]) -> list[str]:
    """Each import cycle of the graph, as "a -> b -> a"."""
    found = []
    state: dict[str, int] = {}  # 1: being visited, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 1:
                found.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    return found


def test_modules_import_one_way_without_cycles() -> None:
    assert cycles(graph()) == []


def test_the_cycle_check_can_fail(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from tosmon import b\n\ndef later():\n    from tosmon.c import x\n")
    (tmp_path / "b.py").write_text("import tosmon.c\n")
    (tmp_path / "c.py").write_text("from tosmon.a import later\n")
    known = {"tosmon.a", "tosmon.b", "tosmon.c"}
    edges = {f"tosmon.{n}": imports(f"tosmon.{n}", tmp_path / f"{n}.py", known) & known for n in "abc"}
    assert edges == {"tosmon.a": {"tosmon.b", "tosmon.c"}, "tosmon.b": {"tosmon.c"}, "tosmon.c": {"tosmon.a"}}
    assert cycles(edges) == ["tosmon.a -> tosmon.b -> tosmon.c -> tosmon.a"]
