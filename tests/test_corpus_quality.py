"""Country sections and the AI filter hold their targets on the shared labelled corpus.

These figures are deterministic (same feeds, same labels, same code), so a
test may hold them; the benchmarks print the details. The corpus lives in
../shared (feeds written by others, not copied here).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SHARED = BENCHMARKS.parent.parent / "shared" / "corpus"

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(not (SHARED / "labels.tsv").exists(), reason="no ../shared/corpus here"),
]


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))  # the scripts import their sibling corpus.py
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_country_sections_meet_their_targets(capsys: pytest.CaptureFixture[str]) -> None:
    code = load("countries").main(["--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    accuracy = float(out.strip().splitlines()[-1].rsplit(" ", 1)[1])
    assert accuracy >= 0.92


def test_ai_filter_meets_its_targets(capsys: pytest.CaptureFixture[str]) -> None:
    code = load("relevance").main(["--quiet"])
    assert code == 0, capsys.readouterr().out
