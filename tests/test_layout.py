"""The package's layout rules, read from the source with `ast` (nothing is imported).

- No import cycle between the top-level entries of `ci_trainer/` (its subpackages and
  top-level modules), nor between modules. Every import counts: at module level, inside
  a function, and under `if TYPE_CHECKING:`, because each is a real dependency of the
  design even when Python would tolerate it at run time.
- No backend name written as a string outside the backend registry (`ci_trainer/backends/`),
  except the config model's `backend: Literal[...]` and its default; that Literal lists
  exactly the registered names.
- No module under `ci_trainer/` longer than 500 lines.

Each check is a function of the package directory, so the tests below run it on the real
tree and on small synthetic trees that must fail.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ci_trainer"
MAX_LINES = 500
REGISTRY = Path("backends") / "__init__.py"
CONFIG_MODEL = Path("config") / "model.py"
# Import sites listed per edge of a cycle; the rest are counted.
SHOWN_SITES = 3


# --- reading the tree ---------------------------------------------------------------


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. "ci_trainer.http.policy"; a package is named by its __init__
    path: Path
    is_package: bool
    tree: ast.Module
    source: str


@dataclass(frozen=True)
class Import:
    """One module's import of another module of the package, where it is written."""

    source: str
    target: str
    where: str  # "ci_trainer/x.py:12"
    statement: str


def read_modules(package: Path) -> dict[str, Module]:
    """Every module under `package`, by dotted name."""
    modules = {}
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = [package.name, *path.relative_to(package).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        source = path.read_text(encoding="utf-8")
        name = ".".join(parts)
        modules[name] = Module(name, path, is_package, ast.parse(source, str(path)), source)
    return modules


def _absolute(module: Module, level: int, name: str | None) -> str:
    """The dotted name a (possibly relative) `from ... import` names."""
    if level == 0:
        return name or ""
    base = module.name.split(".")
    if not module.is_package:
        base.pop()
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _known(modules: dict[str, Module], dotted: str) -> str | None:
    """The longest prefix of `dotted` that is a module of the package (an attribute of a
    module, e.g. `ci_trainer.result.RunResult`, counts as that module)."""
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _targets(modules: dict[str, Module], module: Module, node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            found = _known(modules, alias.name)
            if found:
                yield found
    elif isinstance(node, ast.ImportFrom):
        origin = _absolute(module, node.level, node.module)
        for alias in node.names:
            # `from pkg import submodule` depends on the submodule, not on pkg's __init__.
            found = _known(modules, f"{origin}.{alias.name}") if alias.name != "*" else None
            found = found or _known(modules, origin)
            if found:
                yield found


def read_imports(package: Path) -> list[Import]:
    """Every import between modules of the package, wherever it is written: ast.walk
    reaches function bodies and `if TYPE_CHECKING:` blocks as well as the module level."""
    modules = read_modules(package)
    found = []
    for module in modules.values():
        where_file = module.path.relative_to(package.parent).as_posix()
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            # A dict keeps each target once per statement (`from m import a, b`).
            for target in dict.fromkeys(_targets(modules, module, node)):
                if target != module.name:
                    found.append(
                        Import(
                            module.name,
                            target,
                            f"{where_file}:{node.lineno}",
                            ast.get_source_segment(module.source, node) or ast.unparse(node),
                        )
                    )
    return found


# --- cycles ---------------------------------------------------------------------------


def _components(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges.get(successor, ())))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def _shortest_cycle(edges: dict[str, set[str]], component: set[str]) -> list[str]:
    """One shortest cycle through the component's first node, as a path back to it."""
    start = min(component)
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for successor in sorted(edges[node] & component):
            if successor == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if successor not in previous:
                previous[successor] = node
                queue.append(successor)
    return [start]


def _cycle_report(kind: str, sites: dict[tuple[str, str], list[Import]]) -> list[str]:
    """One message per cycle: its members, a shortest loop, and where each import inside
    it is written (the lines to change to break it)."""
    edges: dict[str, set[str]] = {}
    for source, target in sites:
        edges.setdefault(source, set()).add(target)
        edges.setdefault(target, set())
    messages = []
    for component in sorted(_components(edges), key=min):
        lines = [
            f"{kind} cycle among {', '.join(sorted(component))}",
            "  loop: " + " -> ".join(_shortest_cycle(edges, component)),
        ]
        for (source, target), where in sorted(sites.items()):
            if source in component and target in component:
                lines.append(f"  {source} -> {target}:")
                lines += [f"    {site.where} `{site.statement}`" for site in where[:SHOWN_SITES]]
                if len(where) > SHOWN_SITES:
                    lines.append(f"    ... and {len(where) - SHOWN_SITES} more")
        messages.append("\n".join(lines))
    return messages


def _entry(dotted: str) -> str | None:
    """The top-level entry of `ci_trainer/` a module belongs to; None for the package's
    own __init__ (the version only) and __main__, which are not part of the layering."""
    parts = dotted.split(".")
    if len(parts) < 2 or parts[1] == "__main__":
        return None
    return parts[1]


def package_cycles(package: Path) -> list[str]:
    """Cycles between the top-level entries (subpackages and top-level modules)."""
    sites: dict[tuple[str, str], list[Import]] = {}
    for found in read_imports(package):
        source, target = _entry(found.source), _entry(found.target)
        if source and target and source != target:
            sites.setdefault((source, target), []).append(found)
    return _cycle_report("package", sites)


def module_cycles(package: Path) -> list[str]:
    """Cycles between modules (a package counts as its __init__)."""
    sites: dict[tuple[str, str], list[Import]] = {}
    for found in read_imports(package):
        sites.setdefault((found.source, found.target), []).append(found)
    return _cycle_report("module", sites)


# --- the documented layering ---------------------------------------------------------

ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"
_ROW = re.compile(r"^\|\s*(\d+)\s*\|([^|]*)\|")
_NAME = re.compile(r"`([a-z_]+)/?`")


def documented_order(doc: Path) -> dict[str, tuple[int, int]]:
    """Entry -> (row, place in its row), from the rows of the "What lives where" table."""
    order: dict[str, tuple[int, int]] = {}
    for line in doc.read_text(encoding="utf-8").splitlines():
        if match := _ROW.match(line):
            for place, name in enumerate(_NAME.findall(match.group(2))):
                order[name] = (int(match.group(1)), place)
    return order


def layering_breaches(package: Path, doc: Path) -> list[str]:
    """Imports of an entry the table puts later (or not at all), and entries it omits."""
    order = documented_order(doc)
    entries = {e for name in read_modules(package) if (e := _entry(name))}
    problems = [f"{doc.name} does not place `{e}`" for e in sorted(entries - set(order))]
    for found in read_imports(package):
        source, target = _entry(found.source), _entry(found.target)
        if not source or not target or source == target:
            continue
        if source in order and target in order and order[target] >= order[source]:
            problems.append(
                f"{found.where}: `{source}` (row {order[source][0]}) imports `{target}` "
                f"(row {order[target][0]}), which {doc.name} puts after it: {found.statement}"
            )
    return problems


# --- backend names --------------------------------------------------------------------


def registered_backends(package: Path) -> list[str]:
    """The keys of the registry's `_PACKAGES` dict literal."""
    tree = ast.parse((package / REGISTRY).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        targets: list[ast.expr]
        if isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == "_PACKAGES" for target in targets):
            assert isinstance(value, ast.Dict), "_PACKAGES must be a dict literal"
            return [
                key.value
                for key in value.keys
                if isinstance(key, ast.Constant) and isinstance(key.value, str)
            ]
    raise AssertionError(f"{REGISTRY} has no _PACKAGES dict")


def _config_backend_field(tree: ast.Module) -> ast.AnnAssign | None:
    """The `backend: Literal[...] = Field(...)` line of the config model."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "backend"
            and isinstance(node.annotation, ast.Subscript)
            and isinstance(node.annotation.value, ast.Name)
            and node.annotation.value.id == "Literal"
        ):
            return node
    return None


def _allowed_constants(field: ast.AnnAssign | None) -> set[int]:
    """The string nodes the config model may write: its Literal and its default=."""
    if field is None:
        return set()
    allowed = {id(node) for node in ast.walk(field.annotation)}
    if isinstance(field.value, ast.Call):
        for keyword in field.value.keywords:
            if keyword.arg == "default":
                allowed.add(id(keyword.value))
    elif field.value is not None:
        allowed.add(id(field.value))
    return allowed


def backend_literals(package: Path) -> list[str]:
    """Every string constant equal to a backend name outside the registry."""
    names = set(registered_backends(package))
    offenders = []
    for module in read_modules(package).values():
        relative = module.path.relative_to(package)
        if relative.parts[0] == "backends":
            continue
        allowed = set()
        if relative == CONFIG_MODEL:
            allowed = _allowed_constants(_config_backend_field(module.tree))
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in allowed:
                where = module.path.relative_to(package.parent).as_posix()
                line = module.source.splitlines()[node.lineno - 1].strip()
                offenders.append(f"{where}:{node.lineno}: {node.value!r} in `{line}`")
    return offenders


def config_literal_mismatch(package: Path) -> list[str]:
    """What differs between the config model's `backend` Literal and the registry."""
    field = _config_backend_field(ast.parse((package / CONFIG_MODEL).read_text(encoding="utf-8")))
    if field is None:
        return [f"{CONFIG_MODEL} has no `backend: Literal[...]` field"]
    assert isinstance(field.annotation, ast.Subscript)
    listed = {
        node.value
        for node in ast.walk(field.annotation.slice)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    registered = set(registered_backends(package))
    problems = [
        f"the config model admits {name!r}, the registry has no such backend"
        for name in sorted(listed - registered)
    ]
    problems += [
        f"the registry has {name!r}, the config model's Literal does not admit it"
        for name in sorted(registered - listed)
    ]
    return problems


# --- size -----------------------------------------------------------------------------


def oversized_modules(package: Path, limit: int = MAX_LINES) -> list[str]:
    """Each module longer than `limit` lines, with its count, longest first."""
    counts = [
        (len(module.source.splitlines()), module.path.relative_to(package.parent).as_posix())
        for module in read_modules(package).values()
    ]
    return [
        f"{where}: {count} lines" for count, where in sorted(counts, reverse=True) if count > limit
    ]


# --- the real tree --------------------------------------------------------------------


def _fail_on(problems: list[str]) -> None:
    # pytest.fail rather than assert: the message is the list, not a repr of it.
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_no_package_level_cycle() -> None:
    _fail_on(package_cycles(PACKAGE))


def test_no_module_level_cycle() -> None:
    _fail_on(module_cycles(PACKAGE))


def test_imports_keep_to_the_documented_rows() -> None:
    _fail_on(layering_breaches(PACKAGE, ARCHITECTURE))


def test_backend_names_are_written_only_in_the_registry() -> None:
    _fail_on(backend_literals(PACKAGE))


def test_config_model_admits_exactly_the_registered_backends() -> None:
    _fail_on(config_literal_mismatch(PACKAGE))


def test_no_module_is_longer_than_the_limit() -> None:
    _fail_on(oversized_modules(PACKAGE))


# --- synthetic trees that must fail ---------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    """A throwaway `ci_trainer/` under `root` holding `files` (path -> source)."""
    package = root / "ci_trainer"
    for relative, source in files.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    (package / "__init__.py").touch()
    return package


def _registry(names: Iterable[str]) -> str:
    entries = ", ".join(f'"{name}": "ci_trainer.backends.x"' for name in names)
    return f"_PACKAGES: dict[str, str] = {{{entries}}}\n"


def test_two_module_cycle_is_reported_with_its_lines(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {"a.py": "from ci_trainer.b import B\nA = 1\n", "b.py": "\nfrom ci_trainer import a\n"},
    )
    [message] = module_cycles(package)
    assert "ci_trainer.a, ci_trainer.b" in message
    assert "loop: ci_trainer.a -> ci_trainer.b -> ci_trainer.a" in message
    assert "ci_trainer.a -> ci_trainer.b:\n    ci_trainer/a.py:1 `from ci_trainer.b import B`" in (
        message
    )
    assert "ci_trainer.b -> ci_trainer.a:\n    ci_trainer/b.py:2 `from ci_trainer import a`" in (
        message
    )
    [message] = package_cycles(package)
    assert "package cycle among a, b" in message


def test_function_local_and_type_checking_imports_count(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "a.py": "def f() -> None:\n    from ci_trainer.b import g\n",
            "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from ci_trainer.a import f\n",
        },
    )
    [message] = module_cycles(package)
    assert "ci_trainer/a.py:2" in message
    assert "ci_trainer/b.py:3" in message


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "http/__init__.py": "",
            "http/policy.py": "from ..result import R\n",
            "result.py": "from .http import policy\n",
        },
    )
    [message] = module_cycles(package)
    assert "loop: ci_trainer.http.policy -> ci_trainer.result -> ci_trainer.http.policy" in (
        message
    )
    [message] = package_cycles(package)
    assert "package cycle among http, result" in message


def test_a_package_import_means_its_init_not_its_submodules(tmp_path: Path) -> None:
    # config/__init__ imports nothing; model imports gate; gate imports the config package
    # (its __init__), so modules have no cycle while the packages do.
    package = _tree(
        tmp_path,
        {
            "config/__init__.py": "",
            "config/model.py": "import ci_trainer.gate\n",
            "gate.py": "from ci_trainer.config import LoadedConfig\n",
        },
    )
    assert module_cycles(package) == []
    [message] = package_cycles(package)
    assert "config -> gate:\n    ci_trainer/config/model.py:1 `import ci_trainer.gate`" in message
    assert "gate -> config:\n    ci_trainer/gate.py:1" in message


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "backends/__init__.py": _registry(["svc-a"]),
            "config/__init__.py": "",
            "config/model.py": 'backend: Literal["svc-a"] = Field(default="svc-a")\n',
            "result.py": "import json\nfrom ci_trainer import __version__\n",
            "__main__.py": "from ci_trainer.result import x\n",
        },
    )
    assert package_cycles(package) == []
    assert module_cycles(package) == []
    assert backend_literals(package) == []
    assert config_literal_mismatch(package) == []
    assert oversized_modules(package) == []


def test_a_backend_name_outside_the_registry_is_reported(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "backends/__init__.py": _registry(["svc-a", "svc-b"]),
            "backends/svc_a.py": 'NAME = "svc-a"\n',
            "config/model.py": 'backend: Literal["svc-a", "svc-b"] = Field(default="svc-a")\n'
            'other: str = "svc-b"\n',
            "runner.py": 'def f(name: str) -> bool:\n    return name == "svc-b"\n',
        },
    )
    assert backend_literals(package) == [
        "ci_trainer/config/model.py:2: 'svc-b' in `other: str = \"svc-b\"`",
        "ci_trainer/runner.py:2: 'svc-b' in `return name == \"svc-b\"`",
    ]


def test_a_config_literal_that_differs_from_the_registry_is_reported(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "backends/__init__.py": _registry(["svc-a", "svc-b"]),
            "config/model.py": 'backend: Literal["svc-a", "svc-c"] = Field(default="svc-a")\n',
        },
    )
    assert config_literal_mismatch(package) == [
        "the config model admits 'svc-c', the registry has no such backend",
        "the registry has 'svc-b', the config model's Literal does not admit it",
    ]


def test_a_501_line_module_is_reported(tmp_path: Path) -> None:
    package = _tree(tmp_path, {"long.py": "x = 1\n" * 501, "short.py": "x = 1\n" * 500})
    assert oversized_modules(package) == ["ci_trainer/long.py: 501 lines"]


def test_each_cycle_is_reported_once_and_bystanders_are_left_out(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "a.py": "import ci_trainer.b\n",
            "b.py": "import ci_trainer.c\n",
            "c.py": "import ci_trainer.a\n",
            "d.py": "import ci_trainer.a\n",
            "e.py": "import ci_trainer.f\n",
            "f.py": "import ci_trainer.e\n",
        },
    )
    first, second = package_cycles(package)
    assert first.startswith("package cycle among a, b, c\n  loop: a -> b -> c -> a\n")
    assert second.startswith("package cycle among e, f\n")
    assert "d" not in first.splitlines()[0]


def test_an_import_against_the_documented_rows_is_reported(tmp_path: Path) -> None:
    package = _tree(
        tmp_path,
        {
            "low.py": "from ci_trainer import high\n",
            "high.py": "X = 1\n",
            "stray.py": "",
        },
    )
    doc = tmp_path / "architecture.md"
    doc.write_text("| Row | Modules |\n|---|---|\n| 1 | `low` |\n| 2 | `high/` |\n", "utf-8")
    problems = layering_breaches(package, doc)
    assert "architecture.md does not place `stray`" in problems
    assert any("`low` (row 1) imports `high` (row 2)" in p and "low.py:1" in p for p in problems)
    doc.write_text("| Row | Modules |\n|---|---|\n| 1 | `high`, `low`, `stray` |\n", "utf-8")
    assert layering_breaches(package, doc) == []
