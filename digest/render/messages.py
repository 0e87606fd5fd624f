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
    # A reader's own countries (a variant of the issue; the web page is the full one)
    "subject_sections": "{title} #{number} · {range} · {sections}",
    "your_countries": "Your countries: {sections}",
    "full_issue": "Full issue, every country ({count})",
    "nothing_chosen": "Nothing from your countries ({sections}) this week.",
    "colon": ": ",  # after a label: "Also reported by: ..."
    "list_separator": ", ",
    "issue_number": "Issue #{number}",
    "this_week": "This week",
    "contents": "In this issue",
    "glance": "This week at a glance",
    # The lead of an issue: the editor's note and the lead stories (`digest edit`)
    "editors_note": "From the editor",
    "top_stories": "Top stories",
    "top_ref": "Top story",
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
    # The archive's listings: pages of older stories, previous/next, trends, subscribe
    "country_page_title": "{country}: {span} · {title}",
    "country_page_intro": "{count}, newest first.",
    "older_stories": "Older stories",
    "newer_stories": "Newer stories",
    "issue_span": "{first} – {last}",
    "previous_issue": "← Previous: {issue}",
    "next_issue": "Next: {issue} →",
    "trends": "Stories per week, by country",
    "trends_title": "{title}: stories per week, by country",
    "trends_intro": "How many stories each issue had from each country or region, oldest "
    "issue on the left.",
    "trend_chart": "{name}: stories per issue",
    "trend_bar": "{issue} ({range}): {count}",
    "trend_summary": "{total} in all · {latest} in the latest issue · at most {most}",
    "subscribe_prompt": "Get {title} by email, once a week",
    # digest serve: the readers' pages (subscribe, confirm, preferences, unsubscribe)
    "page_subscribe_title": "Subscribe to {title}",
    "page_subscribe_intro": "AI news from Asia's hubs, once a week, grouped by country. "
    "Choose the countries you want; you can change them at any time.",
    "page_email": "Email address",
    "page_language": "Language of the email",
    "page_countries": "Countries and regions",
    "page_countries_hint": "Global covers stories from everywhere else.",
    "page_subscribe_button": "Subscribe",
    "page_check_inbox_title": "Check your inbox",
    "page_check_inbox": "If {email} can receive mail, a message is on its way. Open the link "
    "in it to confirm: until then, nothing is sent. The link works for {hours} hours.",
    "page_resubmit": "Please check the details and press Subscribe once more.",
    "page_error_email": "Please enter one email address, such as name@example.com.",
    "page_error_countries": "Choose at least one country or region.",
    "page_confirm_title": "Confirm your subscription",
    "page_confirm_text": "Press the button to start receiving {title} at {email}.",
    "page_confirm_button": "Confirm subscription",
    "page_confirmed_title": "You're subscribed",
    "page_confirmed_text": "The next issue will reach {email}. Welcome!",
    "page_latest": "Read the latest issue",
    "page_preferences_link": "Change your countries or language",
    "page_link_invalid_title": "This link is not valid",
    "page_link_invalid": "It may have been used already, copied incompletely, or replaced by "
    "a newer one.",
    "page_link_expired_title": "This link has expired",
    "page_link_expired": "Confirmation links work for {hours} hours. Please subscribe again to "
    "get a new one.",
    "page_subscribe_again": "Subscribe again",
    "page_preferences_title": "Your subscription",
    "page_preferences_intro": "Choose what {email} receives.",
    "page_save": "Save",
    "page_saved": "Saved. The next issue follows your choice.",
    "page_not_receiving": "{email} is not receiving {title} now.",
    "page_unsubscribe_title": "Unsubscribe",
    "page_unsubscribe_question": "Stop sending {title} to {email}?",
    "page_unsubscribe_button": "Unsubscribe",
    "page_unsubscribed_title": "Unsubscribed",
    "page_unsubscribed": "{email} will get no more issues. If this was a mistake, you can "
    "subscribe again.",
    "page_too_many_title": "Too many requests",
    "page_too_many": "Please wait a little and try again.",
    "page_busy_title": "Please try again later",
    "page_busy": "We could not do that just now. Please try again in a few minutes.",
    "page_bad_request_title": "This form could not be read",
    "page_bad_request": "Please go back, reload the page and try again.",
    "page_not_found_title": "Page not found",
    # The mails digest serve sends one reader (digest.render.notice): confirm a
    # signup, welcome, "already subscribed".
    "notice_confirm_subject": "Confirm your subscription to {title}",
    "notice_confirm_preheader": "One click to start receiving {title}.",
    "notice_confirm_heading": "Confirm your subscription",
    "notice_confirm_intro": "Someone, hopefully you, asked to receive {title} at this "
    "address. Press the button to confirm; until you do, we send nothing.",
    "notice_confirm_button": "Confirm my subscription",
    "notice_confirm_expires": {
        "one": "The button works for {n} hour, until {when}.",
        "other": "The button works for {n} hours, until {when}.",
    },
    "notice_confirm_expires_at": "The button works until {when}.",
    "notice_confirm_ignore": "Didn't ask for this? Then ignore this email: without your "
    "confirmation this address is not subscribed, and we will not write again.",
    "notice_confirm_why": "You got this email because this address was entered on the "
    "subscription page of {title}.",
    "notice_when": "{date}, {time} ({zone})",
    "notice_welcome_subject": "Welcome to {title}",
    "notice_welcome_preheader": "Your subscription to {title} is confirmed.",
    "notice_welcome_heading": "Welcome!",
    "notice_welcome_intro": "Your subscription to {title} is confirmed.",
    "notice_welcome_schedule": "A new issue arrives every {weekday} at about {time} ({zone}): "
    "the week's AI news from Asia's hubs, grouped by country.",
    "notice_welcome_latest": "Read the latest issue",
    "notice_already_subject": "You are already subscribed to {title}",
    "notice_already_preheader": "Nothing to do: this address already receives {title}.",
    "notice_already_heading": "You are already subscribed",
    "notice_already_intro": "Someone asked to subscribe this address to {title}, but it "
    "already receives every issue. Nothing has changed and there is nothing to do.",
    "notice_already_ignore": "If that was not you, you can simply ignore this email.",
    "notice_preferences_intro": "Choose the countries and regions you receive, and the "
    "language of the email, on your preferences page at any time.",
    "notice_preferences": "Change your preferences",
}

JA: Mapping[str, Message] = {
    "subject": "{title} 第{number}号 {range}",
    "subject_sections": "{title} 第{number}号 {range}（{sections}）",
    "your_countries": "選択中の国・地域：{sections}",
    "full_issue": "全地域の完全版（{count}）",
    "nothing_chosen": "今週は、選択中の国・地域（{sections}）のニュースはありません。",
    "colon": "：",
    "list_separator": "、",
    "issue_number": "第{number}号",
    "this_week": "今週のニュース",
    "contents": "目次",
    "glance": "国・地域別の件数",
    "editors_note": "編集部から",
    "top_stories": "今週の注目ニュース",
    "top_ref": "注目ニュース",
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
    # The archive's listings: pages of older stories, previous/next, trends, subscribe
    "country_page_title": "{country}のニュース（{span}） · {title}",
    "country_page_intro": "{count}（新しい順）。",
    "older_stories": "以前のニュース",
    "newer_stories": "新しいニュース",
    "issue_span": "{first}〜{last}",
    "previous_issue": "← 前号：{issue}",
    "next_issue": "次号：{issue} →",
    "trends": "国・地域別の件数の推移",
    "trends_title": "{title} 国・地域別の件数の推移",
    "trends_intro": "各号に載った国・地域ごとの件数です。左端がいちばん古い号です。",
    "trend_chart": "{name}：各号の件数",
    "trend_bar": "{issue}（{range}）：{count}",
    "trend_summary": "合計{total} · 最新号{latest}件 · 最多{most}件",
    "subscribe_prompt": "{title}を毎週メールで受け取る",
    # digest serve: the readers' pages (subscribe, confirm, preferences, unsubscribe)
    "page_subscribe_title": "{title}の購読",
    "page_subscribe_intro": "アジア各地のAIニュースを、国・地域別にまとめて毎週お届けします。"
    "受け取る国・地域を選んでください。あとからいつでも変更できます。",
    "page_email": "メールアドレス",
    "page_language": "メールの言語",
    "page_countries": "国・地域",
    "page_countries_hint": "「グローバル」はそれ以外の地域のニュースです。",
    "page_subscribe_button": "購読する",
    "page_check_inbox_title": "メールをご確認ください",
    "page_check_inbox": "{email}宛てに確認メールをお送りしました（受信できるアドレスの場合）。"
    "メール内のリンクを開いて登録を完了してください。完了するまで配信はされません。"
    "リンクの有効期限は{hours}時間です。",
    "page_resubmit": "内容をご確認のうえ、もう一度「購読する」を押してください。",
    "page_error_email": "メールアドレスを1つ入力してください（例：name@example.com）。",
    "page_error_countries": "国・地域を1つ以上選んでください。",
    "page_confirm_title": "購読の確認",
    "page_confirm_text": "ボタンを押すと、{email}宛てに{title}の配信を開始します。",
    "page_confirm_button": "購読を確定する",
    "page_confirmed_title": "購読を受け付けました",
    "page_confirmed_text": "次号から{email}宛てにお届けします。ご登録ありがとうございます。",
    "page_latest": "最新号を読む",
    "page_preferences_link": "国・地域や言語を変更する",
    "page_link_invalid_title": "このリンクは無効です",
    "page_link_invalid": "すでに使用済みか、途中で切れているか、"
    "新しいリンクに置き換えられています。",
    "page_link_expired_title": "このリンクは有効期限切れです",
    "page_link_expired": "確認リンクの有効期限は{hours}時間です。"
    "お手数ですが、もう一度お申し込みください。",
    "page_subscribe_again": "もう一度申し込む",
    "page_preferences_title": "購読の設定",
    "page_preferences_intro": "{email}で受け取る内容を選んでください。",
    "page_save": "保存する",
    "page_saved": "保存しました。次号から反映されます。",
    "page_not_receiving": "{email}は現在{title}を受け取っていません。",
    "page_unsubscribe_title": "配信停止",
    "page_unsubscribe_question": "{email}への{title}の配信を停止しますか？",
    "page_unsubscribe_button": "配信を停止する",
    "page_unsubscribed_title": "配信を停止しました",
    "page_unsubscribed": "{email}には今後お送りしません。"
    "誤って停止した場合は、もう一度お申し込みいただけます。",
    "page_too_many_title": "リクエストが多すぎます",
    "page_too_many": "しばらく待ってから、もう一度お試しください。",
    "page_busy_title": "しばらくしてからお試しください",
    "page_busy": "ただいま処理できませんでした。数分後にもう一度お試しください。",
    "page_bad_request_title": "フォームを読み取れませんでした",
    "page_bad_request": "前のページに戻り、再読み込みしてからもう一度お試しください。",
    "page_not_found_title": "ページが見つかりません",
    # The mails digest serve sends one reader (digest.render.notice).
    "notice_confirm_subject": "【{title}】ご登録の確認をお願いします",
    "notice_confirm_preheader": "ボタンを押すと{title}の配信が始まります。",
    "notice_confirm_heading": "ご登録の確認",
    "notice_confirm_intro": "このメールアドレスで{title}の購読のお申し込みがありました。"
    "下のボタンを押して、登録を確定してください。確定するまで配信は始まりません。",
    "notice_confirm_button": "登録を確定する",
    "notice_confirm_expires": {"other": "ボタンの有効期限は{n}時間後、{when}までです。"},
    "notice_confirm_expires_at": "ボタンの有効期限は{when}までです。",
    "notice_confirm_ignore": "お申し込みに心当たりがない場合は、このメールを破棄してください。"
    "確定しない限り登録されることはなく、今後こちらからメールをお送りすることもありません。",
    "notice_confirm_why": "{title}の購読ページでこのメールアドレスが入力されたため、"
    "このメールをお送りしています。",
    "notice_when": "{date} {time}（{zone}）",
    "notice_welcome_subject": "【{title}】ご登録ありがとうございます",
    "notice_welcome_preheader": "{title}へのご登録が完了しました。",
    "notice_welcome_heading": "ご登録ありがとうございます",
    "notice_welcome_intro": "{title}へのご登録が完了しました。",
    "notice_welcome_schedule": "毎週{weekday}の{time}ごろ（{zone}）、アジア各地のAIニュースを"
    "国・地域別にまとめてお届けします。",
    "notice_welcome_latest": "最新号を読む",
    "notice_already_subject": "【{title}】このアドレスはご登録済みです",
    "notice_already_preheader": "このアドレスにはすでに{title}をお届けしています。"
    "お手続きは不要です。",
    "notice_already_heading": "すでにご登録済みです",
    "notice_already_intro": "このメールアドレスで{title}の購読のお申し込みがありましたが、"
    "すでにご登録いただいています。登録内容に変更はなく、お手続きは不要です。",
    "notice_already_ignore": "お申し込みに心当たりがない場合も、このメールは破棄していただいて"
    "問題ありません。",
    "notice_preferences_intro": "受け取る国・地域やメールの言語は、配信設定ページで"
    "いつでも変更できます。",
    "notice_preferences": "配信設定を変更する",
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
