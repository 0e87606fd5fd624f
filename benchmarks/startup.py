"""How long `digest` takes to start, and what it imports that it should not.

Each command runs as a whole process, as a person or a shell's TAB starts it: the
`digest` script of this virtualenv (else `python -m digest`), one warm-up, then the
best of `--runs` (10) wall-clock times. `python -c pass` is the floor: the
interpreter and site-packages alone. `subscribers list` runs on a real SQLite file
with 1,000 subscribers, in a config folder of `digest init`'s kind; the TAB press is
the request bash's completion script makes (`digest subscribers <TAB>`).

Then each command once more with `python -X importtime`: the packages it imported
that it should not (the stages' libraries, and for `--help` and a TAB digest's own
settings loader and store), each with its cumulative import time. None is the
target (tests/test_startup.py checks the same lists, without timing).

Prints, with targets and PASS/FAIL (exit 1 on a miss):
- `python -c pass` (no target: the floor);
- `digest --help`, `digest --version`, a TAB press: ≤ 0.15 s each;
- `digest subscribers list` (1,000 rows): ≤ 0.20 s;
- modules imported that should not be: none.

Run from the project folder:
    .venv/bin/python benchmarks/startup.py [--runs N] [--subscribers N]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bytecode_cache import compile_like_an_install

BIN = Path(sys.executable).parent
HEAVY = (
    "feedparser",
    "httpx",
    "jinja2",
    "premailer",
    "babel",
    "flask",
    "werkzeug",
    "apscheduler",
    "limits",
    "email_validator",
    "dotenv",
    "tomlkit",
)
STAGES = (
    "digest.editorial",
    "digest.fetch",
    "digest.render",
    "digest.mail",
    "digest.web",
    "digest.run",
    "digest.loopback",
)
SETTINGS_AND_STORE = ("digest.config", "digest.state", "digest.models", "digest.credentials")


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    target: float | None  # seconds; None: no target (the floor)
    banned: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()


def digest_command() -> list[str]:
    script = BIN / "digest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "digest"]


def clean_env(extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_ARC", "COMP_", "DIGEST"))}
    return {**env, **dict(extra)}


def best_time(command: list[str], env: dict[str, str], cwd: Path, runs: int) -> float:
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr!r}")
        if i:  # the first run warms the disk cache
            times.append(elapsed)
    return min(times)


_IMPORT_LINE = re.compile(r"^import time:\s*(\d+)\s*\|\s*(\d+)\s*\|( *)(\S+)")


def unwanted_imports(
    args: tuple[str, ...], env: dict[str, str], cwd: Path, banned: tuple[str, ...]
) -> list[tuple[str, float]]:
    """The outermost banned modules `digest ARGS` imported, with their cumulative
    import time in ms (from `python -X importtime`)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "digest", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    found: dict[str, float] = {}
    for line in done.stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if not m:
            continue
        name = m.group(4)
        hit = next((b for b in banned if name == b or name.startswith(b + ".")), None)
        if hit:
            # importtime prints a package after its submodules: the last line of a
            # banned package is its outermost import, with the cumulative time.
            found[hit] = max(found.get(hit, 0.0), int(m.group(2)) / 1000)
    return sorted(found.items(), key=lambda kv: -kv[1])


def make_folder(root: Path, subscribers: int) -> Path:
    """A folder as `digest init` writes it, with `subscribers` readers in its database."""
    from digest.state.store import Store

    subprocess.run(
        [*digest_command(), "init", str(root)], env=clean_env(), capture_output=True, check=True
    )
    config = root / "digest.toml"
    (root / "var").mkdir(exist_ok=True)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with Store(root / "var" / "digest.sqlite3") as store:
        for n in range(subscribers):
            store.add_subscriber(f"reader{n:05d}@example.com", f"読者 {n}", now)
    return config


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command")
    parser.add_argument("--subscribers", type=int, default=1000)
    opts = parser.parse_args(argv)
    compile_like_an_install()

    tab_line = "digest subscribers "
    tab_env = (
        ("_ARGCOMPLETE", "1"),
        ("_ARGCOMPLETE_SHELL", "bash"),
        ("_ARGCOMPLETE_IFS", "\n"),
        ("COMP_LINE", tab_line),
        ("COMP_POINT", str(len(tab_line))),
    )
    quick = HEAVY + STAGES + SETTINGS_AND_STORE
    cases = [
        Case("digest --help", ("--help",), 0.15, quick),
        Case("digest --version", ("--version",), 0.15, quick),
        Case("TAB: digest subscribers <TAB>", (), 0.15, quick, tab_env),
        Case(f"digest subscribers list ({opts.subscribers:,})", ("subscribers", "list"),
             0.20, HEAVY + STAGES),
    ]  # fmt: skip
    failed = False

    def verdict(ok: bool) -> str:
        nonlocal failed
        failed |= not ok
        return "PASS" if ok else "FAIL"

    with tempfile.TemporaryDirectory(prefix="digest-startup-") as tmp:
        root = Path(tmp)
        make_folder(root, opts.subscribers)
        answer = root / "answer"
        floor = best_time([sys.executable, "-c", "pass"], clean_env(), root, opts.runs)
        print(f"startup, best of {opts.runs} after one warm-up, whole processes")
        print(f"  {'python -c pass (the floor)':<36} {floor:6.3f} s")
        for case in cases:
            env = clean_env(case.env)
            if case.env:
                env["_ARGCOMPLETE_STDOUT_FILENAME"] = str(answer)
            took = best_time([*digest_command(), *case.args], env, root, opts.runs)
            target = f"target ≤ {case.target:.2f} s" if case.target else ""
            ok = case.target is None or took <= case.target
            print(f"  {case.name:<36} {took:6.3f} s  {target}  {verdict(ok)}")
            unwanted = unwanted_imports(case.args, env, root, case.banned)
            listed = ", ".join(f"{name} ({ms:.1f} ms)" for name, ms in unwanted) or "none"
            print(f"    imported but should not be: {listed}  {verdict(not unwanted)}")
    print("all targets met" if not failed else "some targets missed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
