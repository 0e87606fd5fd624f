"""digest's modules compiled to bytecode, as an installed copy has them.

pip compiles a wheel's modules to `.pyc` files when it installs them. A checkout
run with `PYTHONDONTWRITEBYTECODE` set (some shells, containers and CI set it)
never writes them, so every `digest` process a benchmark starts would compile
digest from source first: ~60 ms of the start of `digest gather`, and again in
its fork server, which users never pay. Benchmarks that time whole `digest`
processes call `compile_like_an_install()` first. `compileall` writes the files
whatever the variable says; they go to `__pycache__/` folders, ignored by git.
"""

from __future__ import annotations

import compileall
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "digest"


def compile_like_an_install() -> None:
    if not compileall.compile_dir(PACKAGE, quiet=1):
        raise SystemExit(f"benchmark invalid: {PACKAGE} does not compile")
