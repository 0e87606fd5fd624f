"""Mail: a rendered issue becomes messages, and messages reach readers.

Owns: preparing the MIME parts once per issue and slotting each reader's link
and headers into them (`compose`), DKIM signatures (`signing`), the SMTP
session and the outbox folder (`transport`), and the delivery engine: parallel
reused connections, rate caps, and the reply code of every command deciding a
ledger state (`deliver`).

Never touches: feeds, editorial choices or rendering templates. It reads and
writes the delivery ledger only through `digest.state.store`.
"""
