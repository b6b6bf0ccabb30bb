"""The layout holds: ray_jobs imports point down only, judge_core imports no ray_jobs, no function
grows past 60 lines (read from the source with ast; nothing is imported or run)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# cli -> the verbs -> batch (used by compare and serve) -> report -> Ray's lifecycle -> the shared layer -> config
RANK = {
    "cli": 0,
    "compare": 1,
    "serve": 1,
    "finetune": 1,
    "annotate": 1,
    "core_commands": 1,
    "batch": 2,
    "report": 3,
    "ray_lifecycle": 4,
    "engines": 5,
    "store": 5,
    "cluster": 5,
    "spec": 6,
    "config": 7,
    "models": 7,
    "tiny_models": 7,
    "locations": 8,
    "console": 8,
}


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules `path` imports (relative imports resolved)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    package = parts[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            out |= {f"{module}.{a.name}" for a in node.names} if module == "ray_jobs" else {module}
    return out


def _unit(module: str) -> str:
    return module.split(".")[1]


def test_ray_jobs_imports_point_down_only():
    upward = []
    for path in sorted((ROOT / "ray_jobs").rglob("*.py")):
        if path.parent == ROOT / "ray_jobs" and path.stem == "__init__":
            continue
        unit = path.relative_to(ROOT / "ray_jobs").parts[0].removesuffix(".py")
        for module in _imports(path):
            if module.startswith("ray_jobs.") and _unit(module) != unit and RANK[_unit(module)] <= RANK[unit]:
                upward.append(f"{path.relative_to(ROOT)} imports {module}")
    assert upward == []


def test_judge_core_imports_no_ray_jobs():
    assert [
        p.name for p in (ROOT / "judge_core").rglob("*.py") if any(m.startswith("ray_jobs") for m in _imports(p))
    ] == []


def test_no_function_over_60_lines():
    long = [
        f"{p.relative_to(ROOT)}:{node.lineno} {node.name}"
        for top in ("judge_core", "ray_jobs")
        for p in (ROOT / top).rglob("*.py")
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60
    ]
    assert long == []


def test_an_example_is_swapped_only_in_schema():
    """One rule for the presentation order: judge_core.schema.presented; nobody calls .swapped() directly."""
    hits = [
        f"{p.relative_to(ROOT)}:{n}"
        for top in ("judge_core", "ray_jobs")
        for p in (ROOT / top).rglob("*.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if ".swapped()" in line and p != ROOT / "judge_core" / "schema.py"
    ]
    assert hits == []


def _module_graph() -> dict[str, set[str]]:
    """{module: the project modules it imports at run time, at any level of the file} ('from . import x'
    resolved to the submodule x where x is one). Imports under `if TYPE_CHECKING:` are for the type
    checker only (annotations are strings here): they never run, so they close no cycle."""
    files = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
        for top in ("judge_core", "ray_jobs")
        for p in (ROOT / top).rglob("*.py")
    }
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        out = set()
        tree = ast.parse(path.read_text())
        typing_only = {
            id(n)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
            for stmt in block.body  # not its else: that branch runs
            for n in ast.walk(stmt)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] if node.level else [])
                module = ".".join(x for x in (base, node.module or "") if x)
                out |= {f"{module}.{a.name}" if f"{module}.{a.name}" in files else module for a in node.names}
        graph[name] = {m for m in out if m in files and m != name}
    return graph


def test_no_import_cycles():
    graph, cycles = _module_graph(), []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt in path:
                cycles.append(" -> ".join(path[path.index(nxt) :] + [nxt]))
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start])
    assert cycles == []


def test_the_readme_python_example_runs(ray_local, tmp_path, monkeypatch, shared_root):
    import re

    block = re.search(r"## Python\n.*?```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    api_page = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), re.S).group(1)
    assert api_page == block  # the API page shows the same example, so this run covers both
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JUDGE_DATA_DIR", str(shared_root))
    exec(compile(block, "README.md", "exec"), {})
    assert "## llmbar/natural" in (tmp_path / "results" / "try" / "report.md").read_text()


def test_every_import_inside_a_function_says_why():
    """An import inside a function keeps a heavy library out of judge_core's import or out of `judge
    --help`, or loads an optional dependency: its line (or the line above) says which. Anything else
    belongs at the top of the module."""
    silent = []
    for top in ("judge_core", "ray_jobs"):
        for path in sorted((ROOT / top).rglob("*.py")):
            lines = path.read_text().splitlines()
            for fn in ast.walk(ast.parse("\n".join(lines))):
                if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)) and not _says_why(lines, node.lineno):
                        silent.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert sorted(set(silent)) == []


def _says_why(lines: list[str], lineno: int) -> bool:
    """A comment on the import's line, or on the line above its group of import lines."""
    i = lineno - 1
    if "#" in lines[i]:
        return True
    while i > 0 and lines[i - 1].strip().startswith(("import ", "from ")):
        i -= 1
    return lines[i - 1].strip().startswith("#")
