"""`python -m server doctor`: the shape of the code, checked. Prints every module's size and fails
(exit 1) when a rule of the architecture is broken:

- no module in server/ is over MAX_LINES lines (one concern per module, about 300 at most);
- server/core imports nothing but itself, the standard library and orjson, and opens no file;
- only server/store imports redis.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SERVER = Path(__file__).resolve().parent
MAX_LINES = 320  # "about 300"
CORE_MAY_IMPORT = {"orjson"}


def modules() -> list[Path]:
    return sorted(p for p in SERVER.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    """(top-level module name, relative level) of every import in a module."""
    out: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name.split(".")[0], 0) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append(((node.module or "").split(".")[0], node.level))
    return out


def problems() -> list[str]:
    found: list[str] = []
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in modules():
        rel = path.relative_to(SERVER.parent)
        text = path.read_text(encoding="utf-8")
        if (n := text.count("\n")) > MAX_LINES:
            found.append(f"{rel}: {n} lines (at most {MAX_LINES})")
        tree = ast.parse(text)
        in_core = path.parent == SERVER / "core"
        in_store = SERVER / "store" in path.parents
        for name, level in _imports(tree):
            if name == "redis" and level == 0 and not in_store:
                found.append(f"{rel}: imports redis (only server/store may)")
            if in_core:
                if level == 0 and name not in stdlib and name not in CORE_MAY_IMPORT:
                    found.append(f"{rel}: the pure core imports {name!r}")
                if level > 1:
                    found.append(f"{rel}: the pure core imports from outside server/core")
        if in_core:
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
                    found.append(f"{rel}:{node.lineno}: the pure core opens a file")
    return found


def main() -> int:
    for path in modules():
        n = path.read_text(encoding="utf-8").count("\n")
        print(f"{n:5d}  {path.relative_to(SERVER.parent)}")
    found = problems()
    for p in found:
        print(f"PROBLEM {p}", file=sys.stderr)
    print("doctor: " + (f"{len(found)} problem(s)" if found else "the shape holds"))
    return 1 if found else 0
