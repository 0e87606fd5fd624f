"""The pages of `digest serve`: view models in, HTML out.

Owns: the view-model dataclasses of the readers' pages (subscribe, preferences,
and one-message pages such as "check your inbox" or "confirm"), the country and
language choices they offer, and rendering them with the templates of
`[templates] dir` (then digest's own: `page_*.html.j2`, `page.css`). Pure: no
HTTP, no database, no clock.
Doesn't own: what a request means or which page answers it (`digest.web.app`),
or the UI strings (`digest.render.messages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from digest.config import Settings
from digest.models import GLOBAL_SECTION
from digest.render.issue import get_environment, render_template
from digest.render.messages import country_name, message

# Languages a reader may choose for the email, each named in itself.
LANGUAGES: tuple[tuple[str, str], ...] = (("ja", "日本語"), ("en", "English"))


@dataclass(frozen=True, slots=True)
class CountryChoice:
    code: str  # a configured section code, or GLOBAL_SECTION
    name: str
    checked: bool


@dataclass(frozen=True, slots=True)
class PageView:
    """Everything a page template reads. Text is plain (the templates escape it)."""

    lang: str  # the page's language: the digest's [digest] language
    site_title: str
    heading: str
    archive_href: str = ""  # the archive index, when it is served or known
    contact: str = ""
    csrf_token: str = ""
    action: str = ""  # the URL the page's form posts to
    # subscribe / preferences
    email: str = ""
    language: str = ""  # the reader's chosen email language
    languages: tuple[tuple[str, str], ...] = LANGUAGES
    countries: tuple[CountryChoice, ...] = ()
    errors: tuple[str, ...] = ()
    active: bool = True  # preferences: the reader is receiving the digest
    saved: bool = False
    subscribe_href: str = ""
    # one-message pages
    lines: tuple[str, ...] = ()
    button: str = ""  # a POST button to `action`, if any
    button_secondary: bool = False
    links: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (label, href)


def section_codes(settings: Settings) -> tuple[str, ...]:
    """The sections a reader can choose, in the issue's order: the configured
    countries, then Global."""
    return (*settings.digest.countries, GLOBAL_SECTION)


def country_choices(
    settings: Settings, lang: str, chosen: Sequence[str]
) -> tuple[CountryChoice, ...]:
    """The checkboxes of the country field; `chosen` empty means every section."""
    picked = set(chosen) or set(section_codes(settings))
    return tuple(
        CountryChoice(
            code,
            message(lang, "global") if code == GLOBAL_SECTION else country_name(code, lang),
            code in picked,
        )
        for code in section_codes(settings)
    )


def render_page(settings: Settings, template: str, page: PageView) -> str:
    """One page as HTML, with `[templates] dir` first (then digest's own)."""
    env = get_environment(settings.templates_dir)

    def t(key: str, /, **fields: object) -> str:
        return message(page.lang, key, **fields)

    return render_template(env, template, p=page, t=t)
