"""The rules of ARCHITECTURE.md that a reviewer would otherwise have to remember."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "experiments", "assets", "sync", "trials", "exports")

#: Function-level imports of the project that are neither enqueuing a task, nor under
#: TYPE_CHECKING, nor in AppConfig.ready(): (module, imported module) -> why it stays.
KNOWN_FUNCTION_IMPORTS = {
    # Researcher-facing shortcuts on classes the services themselves import.
    ("assets.holders", "assets.services"): "holder.add_assets() writes through the services",
    ("assets.kinds", "assets.services"): "ExperimentAsset.deposit() writes through the services",
    ("assets.models", "assets.services"): "Asset.deposit() writes through the services",
}

#: Writes to an object's __dict__ that remain: (module, key) -> why.
KNOWN_DICT_STASHES: dict[tuple[str, str], str] = {}


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path, path.name == "__init__.py"


def _target(node: ast.ImportFrom | ast.Import, module: str, is_package: bool) -> str:
    if isinstance(node, ast.Import):
        return node.names[0].name
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _function_imports():
    """(module, target, allowed) for every import of the project inside a function."""
    for module, path, is_package in _modules():
        tree = ast.parse(path.read_text())
        parents = _parents(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            target = _target(node, module, is_package)
            if target.split(".")[0] not in APPS:
                continue
            scope, allowed = node, None
            while scope in parents:
                scope = parents[scope]
                if isinstance(scope, ast.If) and "TYPE_CHECKING" in ast.unparse(scope.test):
                    allowed = True
                    break
                if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
                    names = [alias.name for alias in node.names]
                    allowed = (scope.name == "ready" or target.endswith(".tasks")
                               or target.split(".")[-1] == "tasks" or names == ["tasks"])
                    break
            if allowed is not None:
                yield module, target, allowed


def test_experiments_api_exports_exactly_the_documented_researcher_api():
    import experiments.api

    text = (ROOT / "ARCHITECTURE.md").read_text()
    section = text.split("## The researcher's API", 1)[1]
    documented = set(re.search(r"```\n(.*?)```", section, re.S).group(1).split())
    exported = set(experiments.api.__all__)
    assert exported == documented, (
        f"not documented in ARCHITECTURE.md: {sorted(exported - documented)}; "
        f"documented but not exported: {sorted(documented - exported)}")
    for name in exported:  # every name resolves (a renamed import cannot hide behind __all__)
        assert getattr(experiments.api, name) is not None


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_function_level_imports_only_enqueue_tasks_or_serve_type_checking_or_ready():
    found = {(module, target) for module, target, allowed in _function_imports() if not allowed}
    new = sorted(found - set(KNOWN_FUNCTION_IMPORTS))
    assert not new, f"move these imports to module level (or break the cycle they hide): {new}"
    gone = sorted(set(KNOWN_FUNCTION_IMPORTS) - found)
    assert not gone, f"fixed, so drop them from KNOWN_FUNCTION_IMPORTS: {gone}"


def test_no_private_names_imported_across_modules():
    offenders = []
    for module, path, _ in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                private = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if private:
                    offenders.append(f"{module}:{node.lineno} imports {private}")
    assert not offenders, offenders


def test_no_new_state_stashed_in_another_objects_dict():
    writes = re.compile(r"""\.__dict__(?:\[\s*["'](\w+)["']\s*\]\s*=|\.(?:setdefault|pop)\(\s*["'](\w+)["'])""")
    found = set()
    for module, path, _ in _modules():
        found |= {(module, a or b) for a, b in writes.findall(path.read_text())}
    new = sorted(found - set(KNOWN_DICT_STASHES))
    assert not new, f"keep this state in a declared attribute, not in __dict__: {new}"
    gone = sorted(set(KNOWN_DICT_STASHES) - found)
    assert not gone, f"fixed, so drop them from KNOWN_DICT_STASHES: {gone}"
