"""Machine state: everything digest remembers between runs.

Owns: the SQLite database and all of its SQL (`store`, with the delivery
ledger's queries in `ledger`, the readers' in `readers`, an editor's decisions
in `editorial_decisions`, and the schema text, migrations and row conversions
in `schema`), checking subscriber addresses and their CSV form
(`subscribers`), the publishing lock (`lock`), and writing files atomically
(`files`: temporary file, fsync, rename).

Never touches: the network, feeds, rendering or mail. Hand-edited settings are
`digest.config`, not state.
"""
