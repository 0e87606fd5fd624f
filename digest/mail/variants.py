"""The variants of one issue for delivery: each prepared once, one picked per reader.

Owns: `Variants`, shared by the delivery workers of one send: the prepared
message (`digest.mail.compose.prepare`) of every distinct reader choice, made
before the first message goes out (`add`), and the pick for each reader from
the subscriber row its ledger claim just read (`for_reader`). A reader whose
choice is not among them (they changed it after the send began) gets theirs
made then, once, under a lock, and shared by any reader of the same choice
after them. A message is never rendered per reader: only the unsubscribe link
and the headers that name the reader are theirs (`compose`).

Doesn't own: what a choice is or which variant it gets (`digest.render.choice`,
through the `key` function given), rendering (`digest.render.issue`, through the
`make` function given: mail never renders templates), or sending
(`digest.mail.deliver`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from digest.mail.compose import PreparedIssue
from digest.models import Subscriber
from digest.render.choice import Choice

# A reader's stored (language, countries) → the variant they get.
Key = Callable[[str, tuple[str, ...]], Choice]


class Variants:
    """The prepared variants of one issue, keyed by `Choice`."""

    def __init__(
        self,
        full: PreparedIssue,
        *,
        key: Key | None = None,
        make: Callable[[Choice], PreparedIssue] | None = None,
    ) -> None:
        """`full`: the full issue, prepared. Without `key` and `make`, every reader
        gets it (a send with one variant, or a test copy)."""
        self.full = full
        self._key = key
        self._make = make
        self._lock = threading.Lock()
        self._prepared: dict[Choice, PreparedIssue] = {}
        if key is not None:
            self._prepared[key("", ())] = full

    @classmethod
    def one(cls, prepared: PreparedIssue) -> Variants:
        """One variant for everyone."""
        return cls(prepared)

    @property
    def week(self) -> str:
        return self.full.week

    def __len__(self) -> int:
        """How many distinct messages this send has: the full issue and every variant."""
        return len(self._prepared) or 1

    def add(self, choices: Iterable[tuple[str, tuple[str, ...]]]) -> None:
        """Prepare the variant of every stored (language, countries) now, once per
        distinct variant (before sending, so a template that fails does so before
        anyone gets a message)."""
        for language, countries in choices:
            self.get(language, countries)

    def get(self, language: str, countries: tuple[str, ...]) -> PreparedIssue:
        if self._key is None or self._make is None:
            return self.full
        choice = self._key(language, countries)
        prepared = self._prepared.get(choice)
        if prepared is not None:
            return prepared
        with self._lock:
            # Another worker may have made it while this one waited for the lock.
            prepared = self._prepared.get(choice)
            if prepared is None:
                prepared = self._prepared[choice] = self._make(choice)
        return prepared

    def for_reader(self, subscriber: Subscriber) -> PreparedIssue:
        """The prepared variant for `subscriber`'s choice as stored now."""
        return self.get(subscriber.language, subscriber.countries)
