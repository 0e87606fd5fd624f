"""Rendering the mails `digest serve` sends one reader: a view in, subject, HTML and text out.

Owns: the three kinds of notice (`NoticeKind`: confirm a signup, welcome after
confirming, "already subscribed" when an active address is entered again), their
view model (`NoticeView`, built by `notice_view`: safe links, the confirmation
link's expiry and the publishing schedule in the reader's language and the
digest's time zone), and rendering it with the templates of `[templates] dir`
(then digest's own: `notice_subject.txt.j2`, `notice_email.html.j2`,
`notice.txt.j2`, and `base.css` followed by `notice.css`), the HTML's CSS inlined
by premailer exactly as the issue's is.

Doesn't own: headers, MIME, DKIM or sending (`digest.mail.notices`), the links'
tokens (the caller builds the links), nor the labels (`digest.render.messages`).
Pure: `now` is given, nothing is read but templates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time, get_day_names, get_timezone_name
from jinja2 import TemplateNotFound
from markupsafe import Markup

from digest.config import Settings
from digest.errors import TemplateError
from digest.render.issue import (
    get_environment,
    inline_css,
    load_stylesheet,
    render_template,
    safe_href,
)
from digest.render.messages import CATALOGUES, message, plural
from digest.render.typography import one_line

__all__ = [
    "NOTICE_STYLESHEET",
    "NoticeKind",
    "NoticeView",
    "RenderedNotice",
    "notice_language",
    "notice_view",
    "render_notice",
]

SUBJECT_TEMPLATE = "notice_subject.txt.j2"
EMAIL_TEMPLATE = "notice_email.html.j2"
TEXT_TEMPLATE = "notice.txt.j2"
NOTICE_STYLESHEET = "notice.css"  # appended to base.css: the button, the notice's text

# Zones CLDR has no readable name for ("Unknown Region (UTC) Time"): shown as UTC.
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "GMT", "Etc/GMT", "Universal", "Zulu"})


class NoticeKind(StrEnum):
    CONFIRM = "confirm"  # "confirm your subscription": the confirm link, its expiry
    WELCOME = "welcome"  # after confirming: the schedule, the latest issue, preferences
    ALREADY = "already"  # an active address was entered again: nothing to do, preferences


@dataclass(frozen=True, slots=True)
class NoticeView:
    """What the notice templates are given (`v`). Links are safe http(s) URLs or ""."""

    kind: NoticeKind
    lang: str  # the reader's language: "ja" | "en"
    title: str  # the digest's title
    action_url: str = ""  # CONFIRM: the confirm page
    preferences_url: str = ""  # WELCOME, ALREADY
    unsubscribe_url: str = ""  # WELCOME, ALREADY (CONFIRM: the reader is on no list yet)
    latest_issue_url: str = ""  # WELCOME, when there is an issue
    expires_hours: int = 0  # CONFIRM: the link's lifetime, as the sentence says it
    expires_date: str = ""  # CONFIRM: when it ends, in the digest's time zone
    expires_time: str = ""
    expires_zone: str = ""
    publish_weekday: str = ""  # WELCOME: when issues arrive
    publish_time: str = ""
    zone: str = ""  # the digest's time zone, named for readers ("Japan Time")
    contact: str = ""

    @property
    def is_list_mail(self) -> bool:
        """Whether the mail goes to a reader on the list (and so offers unsubscribing)."""
        return self.kind is not NoticeKind.CONFIRM


@dataclass(frozen=True, slots=True)
class RenderedNotice:
    subject: str  # one line, never CR/LF
    html: str  # CSS inlined; only @media rules left in <style>
    text: str  # the plain-text part
    language: str


def notice_language(settings: Settings, reader_language: str) -> str:
    """The reader's language when digest has labels for it, else `[digest] language`."""
    return reader_language if reader_language in CATALOGUES else settings.digest.language


def _link(url: str | None, what: str, *, required: bool) -> str:
    if not url:
        if required:
            raise ValueError(f"this notice needs the {what} link")
        return ""
    href = safe_href(url)
    if href is None or one_line(url) != url:
        # The URL itself is not repeated: it may carry a reader's token.
        raise ValueError(f"the {what} link is not a one-line http(s) URL")
    return href


def _zone_name(zone: ZoneInfo, moment: datetime | None, lang: str) -> str:
    if zone.key in _UTC_NAMES or zone.key.startswith("Etc/"):
        return "UTC"
    if moment is None:  # a schedule: "Japan Time", "Central European Time"
        return str(get_timezone_name(zone, "long", zone_variant="generic", locale=lang))
    return str(get_timezone_name(moment, "long", locale=lang))  # "Japan Standard Time"


def _cldr(text: object) -> str:
    # CLDR's narrow and thin spaces ("9:00\u202fAM") become plain ones, as in the issue.
    return str(text).replace("\u202f", " ").replace("\u2009", " ")


def notice_view(
    settings: Settings,
    kind: NoticeKind,
    language: str,
    now: datetime,
    *,
    action: str = "",
    preferences: str = "",
    unsubscribe: str = "",
    latest_issue: str | None = None,
    expires_hours: int = 48,
) -> NoticeView:
    """The view of one notice. Raises ValueError for a link the kind needs that is
    missing or not http(s) (a caller's mistake; the message never shows the URL)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    kind = NoticeKind(kind)
    lang = notice_language(settings, language)
    zone = ZoneInfo(settings.digest.timezone)
    base = NoticeView(
        kind=kind,
        lang=lang,
        title=settings.digest.title,
        zone=_zone_name(zone, None, lang),
        contact=settings.digest.contact,
    )
    if kind is NoticeKind.CONFIRM:
        if expires_hours < 0:
            raise ValueError("expires_hours must not be negative")
        # The minute shown is cut, not rounded: never later than the real end.
        ends = (now + timedelta(hours=expires_hours)).astimezone(zone)
        return replace(
            base,
            action_url=_link(action, "confirm", required=True),
            expires_hours=expires_hours,
            expires_date=_cldr(format_skeleton("yMMMEd", ends, locale=lang)),
            expires_time=_cldr(format_time(ends, "short", locale=lang)),
            expires_zone=_zone_name(zone, ends, lang),
        )
    publish = settings.digest.publish
    return replace(
        base,
        preferences_url=_link(preferences, "preferences", required=True),
        unsubscribe_url=_link(unsubscribe, "unsubscribe", required=True),
        latest_issue_url=(
            _link(latest_issue, "latest issue", required=False)
            if kind is NoticeKind.WELCOME
            else ""
        ),
        publish_weekday=str(get_day_names("wide", locale=lang)[publish.weekday]),
        publish_time=_cldr(format_time(publish.at, "short", locale=lang)),
    )


def _stylesheet(settings: Settings) -> Markup:
    """base.css, then notice.css, each the first found in `[templates] dir` or digest's own."""
    env = get_environment(settings.templates_dir)
    assert env.loader is not None
    try:
        source, filename, _ = env.loader.get_source(env, NOTICE_STYLESHEET)
    except TemplateNotFound as e:
        raise TemplateError(
            NOTICE_STYLESHEET,
            f"not found ({e})",
            hint="put a notice.css into [templates] dir, or reinstall digest",
        ) from e
    if "</" in source:
        raise TemplateError(
            filename or NOTICE_STYLESHEET,
            "must not contain '</' (it would end the <style> element)",
            hint="remove the '</' from the stylesheet",
        )
    # Both are ours (or the operator's): entity-escaping inside <style> would break them.
    return load_stylesheet(settings.templates_dir) + Markup("\n") + Markup(source)


def render_notice(settings: Settings, view: NoticeView) -> RenderedNotice:
    """Subject, HTML (CSS inlined) and text of one notice."""
    env = get_environment(settings.templates_dir)
    lang = view.lang

    def t(key: str, /, **fields: object) -> str:
        return message(lang, key, **fields)

    def tp(key: str, n: int, /, **fields: object) -> str:
        return plural(lang, key, n, **fields)

    context: dict[str, object] = {"v": view, "t": t, "tp": tp}
    # A template may break lines; a Subject never has one.
    subject = one_line(render_template(env, SUBJECT_TEMPLATE, **context))
    if not subject:
        source = env.get_template(SUBJECT_TEMPLATE).filename or SUBJECT_TEMPLATE
        raise TemplateError(source, "gave an empty subject", hint="every mail needs a Subject")
    context |= {"subject": subject, "css": _stylesheet(settings)}
    html = inline_css(render_template(env, EMAIL_TEMPLATE, **context))
    text = render_template(env, TEXT_TEMPLATE, **context)
    return RenderedNotice(subject=subject, html=html, text=text, language=lang)
