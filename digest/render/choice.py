"""A reader's choice, and which variant of an issue it gets.

Owns: `Choice` (the language of a reader's labels and dates, and the sections
they chose, normalised against the settings: `reader_choice`) and `variant_of`
(the variant of one issue a choice gets). Readers whose copies would be the same
get the same `Choice`, so an issue is rendered once per distinct variant, never
per reader. Pure: data in, data out.

Doesn't own: storing choices (`digest.state.readers`), what a variant shows
(`digest.render.view`), rendering it (`digest.render.issue`) or picking one per
message (`digest.mail.variants`).

The Global section is `digest.models.GLOBAL_SECTION` here as everywhere: a
reader who wants it has that code among their countries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from digest.config import Settings
from digest.models import GLOBAL_SECTION, Issue
from digest.render.messages import CATALOGUES


@dataclass(frozen=True, slots=True)
class Choice:
    """One variant of an issue: its language and the sections it shows."""

    language: str  # a language with a catalogue ("ja", "en")
    countries: tuple[str, ...] = ()  # section codes in the configured order; () = every section

    @property
    def narrowed(self) -> bool:
        """Whether sections are left out (else it is the full issue)."""
        return bool(self.countries)

    def __str__(self) -> str:
        return f"{self.language}:{'+'.join(self.countries) or 'all'}"


def section_codes(settings: Settings) -> tuple[str, ...]:
    """Every section an issue may have, in the order it shows them."""
    return (*settings.digest.countries, GLOBAL_SECTION)


def full_choice(settings: Settings) -> Choice:
    """The full issue in the digest's language: the archive's, and most readers'."""
    return Choice(settings.digest.language)


def reader_choice(language: str, countries: Iterable[str], settings: Settings) -> Choice:
    """A reader's stored preferences as a `Choice`.

    "" (or a language digest has no labels for) is the digest's `[digest]
    language`. Codes keep the configured section order; codes no longer
    configured are dropped. Every section chosen is (): the full issue. A choice
    left with no configured section at all (the operator removed the only
    countries a reader chose) is the full issue too: a reader who asked for news
    should not get an empty note every week because of a change they did not make.
    """
    lang = language if language in CATALOGUES else settings.digest.language
    wanted = {c.strip().upper() for c in countries}
    known = section_codes(settings)
    codes = tuple(c for c in known if c in wanted)
    return Choice(lang, () if len(codes) == len(known) else codes)


def variant_of(choice: Choice, issue: Issue) -> Choice:
    """The variant of `issue` a reader with `choice` gets: the full issue (in
    their language) when the choice leaves out none of this issue's sections
    with stories, else their choice. So a reader of JP, KR and Global shares the
    full issue's rendering in a week with stories only there, and a quiet week
    is one note for everyone."""
    present = {s.code for s in issue.sections if s.stories}
    if choice.countries and present - set(choice.countries):
        return choice
    return Choice(choice.language)
