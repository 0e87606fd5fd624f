"""The files that ship with digest: templates, name and keyword lists, the example config.

Owns: finding them, and nothing else in digest knows where they are. In an
installed wheel or sdist build they live inside the package, in
`digest/_bundled/` (the build copies the repository's top-level `templates/`
and `config/` there, see `pyproject.toml`), and are found through
`importlib.resources`. In a source checkout (an editable install) there is no
copy: the repository's own `templates/` and `config/` are used.

Doesn't own: the user's own files, which always take precedence: `[templates]
dir` is searched before the bundled templates, and a `places.toml` or
`topics.toml` beside the config file replaces the bundled one (`digest.config`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from digest.errors import DigestError


def _root() -> Path:
    packaged = resources.files("digest") / "_bundled"
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent  # a source checkout


def check() -> None:
    """Raise a clear error, not a traceback later, when an install lost its data files."""
    missing = [
        p
        for p in (TEMPLATES_DIR, PLACES_FILE, TOPICS_FILE, EXAMPLE_CONFIG, ENTITIES_DIR)
        if not p.exists()
    ]
    if missing:
        raise DigestError(
            f"digest's own files are missing: {', '.join(map(str, missing))}",
            hint="reinstall digest from its wheel, or run it from a complete source checkout",
        )


ROOT = _root()
TEMPLATES_DIR = ROOT / "templates"  # Jinja2 templates and base.css
PLACES_FILE = ROOT / "config" / "places.toml"  # names that settle a story's country
TOPICS_FILE = ROOT / "config" / "topics.toml"  # keywords of `filter = "ai"`
EXAMPLE_CONFIG = ROOT / "config" / "digest.toml"  # the commented config `digest init` writes
ENTITIES_DIR = ROOT / "config" / "entities"  # the knowledge base: who is who, *.tsv
