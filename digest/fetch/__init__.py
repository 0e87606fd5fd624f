"""Fetching: feeds in, normalised posts out.

Owns: polling every configured feed over HTTP with conditional GET and size and
redirect caps (`gather`), parsing bodies with feedparser in worker processes
(`parse`), repairing mislabelled CJK charsets (`charset`), reading the dates
feeds really write (`dates`), and turning feedparser's output into frozen
`Post`s at one boundary (`normalize`). The only stage that touches the network.

Never touches: what goes into an issue (`digest.editorial`), rendering, mail.
Its one write is through `digest.state.store` (new posts, feed state).
"""
