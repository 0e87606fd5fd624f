"""Mail: a rendered issue becomes messages, and messages reach readers.

Owns: preparing the MIME parts once per issue (once per variant of readers'
choices: `variants`) and slotting each reader's link and headers into them
(`compose`), DKIM signatures (`signing`), the SMTP
session and the outbox folder (`transport`), and the delivery engine: parallel
reused connections, rate caps, and the reply code of every command deciding a
ledger state (`deliver`), and what a message that comes back is: a bounce, a
spam complaint, an unsubscribe mail (`inbound`, pure).

Never touches: feeds, editorial choices or rendering templates. It reads and
writes the delivery ledger only through `digest.state.store`.
"""
