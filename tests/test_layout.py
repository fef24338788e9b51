"""The package's shape: no import circles, no borrowed private names."""

import ast
import subprocess
import sys
from pathlib import Path

import infoplane

PACKAGE = Path(infoplane.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path):
    """``(module, names)`` of every import that runs (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, ast.ImportFrom | ast.Import):
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
            continue
        base = package
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        module = node.module or ""
        target = f"{base}.{module}".strip(".") if node.level else module
        names = [a.name for a in node.names]
        if node.level and not node.module:  # from . import x: modules
            for name in names:
                yield f"{target}.{name}", []
        else:
            yield target, names


def _graph():
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: set() for name in modules}
    borrowed = []
    for name, path in modules.items():
        for target, names in _runtime_imports(path):
            if target not in modules or target == name:
                continue
            graph[name].add(target)
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            if private:
                borrowed.append(f"{name} imports {private} from {target}")
    return graph, borrowed


def test_no_import_circles():
    graph, _ = _graph()
    # A package imports its own modules in __init__ (lazily in infoplane's case);
    # edges into a package's __init__ from its members are not circles of concepts.
    state, circles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if nxt in node.split(".")[:-1] or node.startswith(nxt + "."):
                continue
            if state.get(nxt) == "open":
                circles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert circles == []


def test_no_module_imports_another_modules_private_names():
    _, borrowed = _graph()
    assert borrowed == []


def test_importing_infoplane_loads_no_heavy_library():
    code = (
        "import sys, infoplane; "
        "print(sorted(m for m in ('jax', 'matplotlib', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


def test_the_readme_layout_table_names_every_module_and_only_those():
    readme = (PACKAGE.parent.parent / "README.md").read_text()
    table = readme.split("## Layout", 1)[1].split("\n\n")[2]
    named = set()
    for row in table.splitlines()[2:]:
        named |= {part.split("`")[1] for part in row.split("|")[1].split(",")}
    modules = {
        p.name + "/" if p.is_dir() else p.name
        for p in PACKAGE.iterdir()
        if not p.name.startswith(("_", ".")) or p.name == "__main__.py"
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    assert named == modules
