"""What the knowledge base costs a run: reading it and compiling its names.

Each figure is taken in a fresh process (as a cron run starts), best of 5:

- the classifier without the knowledge base (CLDR names, places.toml), the
  baseline of this same run;
- reading `config/entities/*.tsv` and compiling every name, no cache (the first
  run after an install or an edit of a data file);
- reading the compiled names back from the cache folder (every later run).

Target (issue 12): loading the knowledge base and building its matcher < 150 ms.
Run from the project folder:
    .venv/bin/python benchmarks/knowledge.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from digest import bundled
from digest.editorial.entities import load_entities

MAX_MS = 150
RUNS = 5

PROBE = """
import sys, time
from pathlib import Path
t0 = time.perf_counter()
from digest import bundled
from digest.editorial.classify import Classifier, load_places
mode, cache = sys.argv[1], Path(sys.argv[2])
t1 = time.perf_counter()
if mode == "baseline":
    c = Classifier(["KR"], {}, load_places(bundled.PLACES_FILE), entities=())
else:
    c = Classifier.from_files(["KR"], {}, bundled.PLACES_FILE, cache_dir=cache)
t2 = time.perf_counter()
assert c.classify("Samsung opens a lab").country == "KR"
print((t1 - t0) * 1000, (t2 - t1) * 1000)
"""


def probe(mode: str, cache: Path) -> tuple[float, float]:
    """(import ms, classifier ms) in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(cache)], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> int:
    entities = load_entities(bundled.ENTITIES_DIR)
    names = sum(len(e.names) for e in entities)
    print(f"knowledge base: {len(entities)} entities, {names} names")
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        baseline = min(probe("baseline", cache)[1] for _ in range(RUNS))
        cold = []
        for _ in range(RUNS):
            for old in cache.glob("*"):
                old.unlink()
            cold.append(probe("names", cache)[1])
        warm = min(probe("names", cache)[1] for _ in range(RUNS))
        size = sum(p.stat().st_size for p in cache.glob("*"))
    print(f"classifier without the knowledge base (baseline): {baseline:.0f} ms")
    print(f"first run, reading and compiling every name (writes the cache): {min(cold):.0f} ms")
    passed = warm < MAX_MS
    print(
        f"later runs, compiled names read from the cache ({size / 1e6:.1f} MB): {warm:.0f} ms "
        f"= {warm / baseline:.1f}x the baseline; target < {MAX_MS} ms: "
        f"{'PASS' if passed else 'FAIL'}"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
