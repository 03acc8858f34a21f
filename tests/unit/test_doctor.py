"""The architecture's rules hold: small modules, a pure core, Redis only in the store."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from server import doctor

ROOT = Path(__file__).resolve().parents[2]


def test_the_shape_holds() -> None:
    assert doctor.problems() == []


def test_the_doctor_catches_what_it_should(tmp_path: Path) -> None:
    tree = ast.parse("import redis\nfrom .. import config\nimport httpx\nopen('x')\n")
    assert ("redis", 0) in doctor._imports(tree) and ("", 2) in doctor._imports(tree)


def test_the_command_prints_sizes_and_exits_0() -> None:
    r = subprocess.run([sys.executable, "-m", "server", "doctor"], cwd=ROOT, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert "server/core/session.py" in r.stdout and "the shape holds" in r.stdout
