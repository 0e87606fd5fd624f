"""digest: many RSS/Atom feeds about Asian AI hubs → one weekly email, grouped by country.

The pipeline, one module per stage:
config → gather (+ normalize) → store → selection (+ classify) → render → archive
→ compose → deliver; `pipeline` runs them in order and `cli` is the front door.
"""

__version__ = "0.1.0"
