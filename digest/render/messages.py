"""The UI labels of the issue, per reader language.

Owns: every fixed piece of text a reader sees in the email, the web page, the
text part, the archive index and the feed ("This week", "Unsubscribe", ...), one
catalogue per language, and the lookup helpers. Doesn't own: dates and number
formats (Babel, in `digest.render.view`), or anything that comes from feeds.
Country names come from CLDR through Babel (`country_name`), shortened where
readers know a shorter name.

Adding a language is one edit here: add a catalogue with the same keys as
`EN` to `CATALOGUES` (the tests check that every catalogue has exactly the keys
of `EN` and the same `{placeholders}` in each value). `digest.config` also lists
the languages a config file may ask for.

Values are `str.format` templates with named fields. A value that depends on a
count is a mapping from a CLDR plural category ("one", "other", ...) to a
template; `plural()` picks the category with Babel's plural rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from babel import Locale

Message = str | Mapping[str, str]

EN: Mapping[str, Message] = {
    "subject": "{title} #{number} · {range}",
    "colon": ": ",  # after a label: "Also reported by: ..."
    "list_separator": ", ",
    "issue_number": "Issue #{number}",
    "this_week": "This week",
    "contents": "In this issue",
    "glance": "This week at a glance",
    "story_count": {"one": "{n} story", "other": "{n} stories"},
    "section_count": "{name} ({n})",
    "also_reported": "Also reported by",
    "more_stories": {
        "one": "{n} more story in this section on the web page",
        "other": "{n} more stories in this section on the web page",
    },
    "also_about": "Also about {country}",
    "global": "Global",
    "no_stories": "No stories this week.",
    "quiet_week": (
        "A quiet week: none of our sources reported anything for this issue. See you next week."
    ),
    "preheader": "{count} this week: {sections}",
    "view_in_browser": "View in browser",
    "unsubscribe": "Unsubscribe",
    "why": "You receive this because you subscribed to {title}.",
    "contact": "Questions or feedback: {contact}",
    "web_unsubscribe": (
        "Subscribers can unsubscribe at any time with the link at the end of every email issue."
    ),
    "all_issues": "All issues",
    "archive_title": "{title}: all issues",
    "archive_intro": "Every issue so far, newest first.",
    "archive_empty": "No issues yet.",
    "feed": "Atom feed",
    "countries": "By country",
    "country_title": "{country}: all stories · {title}",
    "country_intro": "{count} across all issues, newest first.",
    "in_issue": "In {issue}",
}

JA: Mapping[str, Message] = {
    "subject": "{title} 第{number}号 {range}",
    "colon": "：",
    "list_separator": "、",
    "issue_number": "第{number}号",
    "this_week": "今週のニュース",
    "contents": "目次",
    "glance": "国・地域別の件数",
    "story_count": {"other": "{n}件"},
    "section_count": "{name}（{n}）",
    "also_reported": "ほかの報道",
    "more_stories": {"other": "このセクションのほか{n}件はウェブ版で"},
    "also_about": "{country}にも関連",
    "global": "グローバル",
    "no_stories": "今週のニュースはありません。",
    "quiet_week": "今週は掲載するニュースがありませんでした。また来週お届けします。",
    "preheader": "今週は{count}：{sections}",
    "view_in_browser": "ブラウザで表示",
    "unsubscribe": "配信停止",
    "why": "{title}にご登録いただいたため、このメールをお送りしています。",
    "contact": "ご意見・お問い合わせ：{contact}",
    "web_unsubscribe": "配信停止は、お届けしたメールの末尾にあるリンクからいつでも行えます。",
    "all_issues": "バックナンバー",
    "archive_title": "{title} バックナンバー",
    "archive_intro": "これまでに配信したすべての号（新しい順）。",
    "archive_empty": "まだ配信した号はありません。",
    "feed": "Atomフィード",
    "countries": "国・地域別",
    "country_title": "{country}のニュース一覧 · {title}",
    "country_intro": "これまでの全号から{count}（新しい順）。",
    "in_issue": "{issue}に掲載",
}

CATALOGUES: Mapping[str, Mapping[str, Message]] = MappingProxyType({"en": EN, "ja": JA})


class MessageError(LookupError):
    """A label or a language is missing from the catalogues (a programming error)."""


def catalogue(language: str) -> Mapping[str, Message]:
    try:
        return CATALOGUES[language]
    except KeyError:
        known = ", ".join(sorted(CATALOGUES))
        raise MessageError(
            f"no message catalogue for language {language!r} (known: {known}); "
            "add one in digest/render/messages.py"
        ) from None


def _lookup(language: str, key: str) -> Message:
    messages = catalogue(language)
    try:
        return messages[key]
    except KeyError:
        raise MessageError(
            f"message {key!r} is missing from the {language!r} catalogue "
            "in digest/render/messages.py"
        ) from None


def _format(language: str, key: str, template: str, fields: Mapping[str, object]) -> str:
    try:
        return template.format_map(fields)
    except (KeyError, IndexError) as e:
        raise MessageError(
            f"message {key!r} ({language!r}) needs the field {e.args[0]!r}, which was not given"
        ) from None


def message(language: str, key: str, /, **fields: object) -> str:
    """The label `key` in `language`, with `{fields}` filled in.

    Raises `MessageError` naming the key and language if either is missing.
    """
    value = _lookup(language, key)
    if not isinstance(value, str):
        raise MessageError(f"message {key!r} depends on a count: use plural()")
    return _format(language, key, value, fields)


def plural(language: str, key: str, n: int, /, **fields: object) -> str:
    """The count-dependent label `key` for `n`, with `{n}` and `{fields}` filled in."""
    value = _lookup(language, key)
    if isinstance(value, str):
        raise MessageError(f"message {key!r} does not depend on a count: use message()")
    category = Locale.parse(language).plural_form(n)
    # CLDR may name a category the catalogue doesn't distinguish; "other" always exists.
    template = value.get(category) or value.get("other")
    if template is None:
        raise MessageError(f"message {key!r} ({language!r}) has no 'other' plural form")
    return _format(language, key, template, {"n": n, **fields})


# CLDR's standard names are sometimes the formal ones; readers know these shorter ones.
SHORT_COUNTRY_NAMES: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        ("en", "HK"): "Hong Kong",
        ("en", "MO"): "Macao",
        ("ja", "HK"): "香港",
        ("ja", "MO"): "マカオ",
        ("ja", "US"): "米国",
    }
)


def country_name(code: str, language: str) -> str:
    """A reader-facing country name: CLDR through Babel, short where it helps."""
    short = SHORT_COUNTRY_NAMES.get((language, code))
    if short:
        return short
    return str(Locale.parse(language).territories.get(code, code))
