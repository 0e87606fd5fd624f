"""digest.fetch.charset: spotting mojibake and re-decoding mislabelled CJK bodies.

Bodies are small RSS documents encoded here in legacy CJK encodings with wrong
or missing declarations, plus copies of feedparser's own test files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.fetch.charset import (
    CJK_CANDIDATES,
    JAPANESE,
    KOREAN,
    SIMPLIFIED_CHINESE,
    TRADITIONAL_CHINESE,
    cjk_encodings,
    codec_name,
    declared_encodings,
    expects_cjk,
    garbled,
    is_single_byte,
    redecode,
    suspicious,
    utf8_document,
)

DATA = Path(__file__).parent / "data" / "feedparser"

TITLES = {
    "shift_jis": "東京のAI企業、資金調達",
    "euc_jp": "大阪で自動運転の実証",
    "euc_kr": "서울 AI 반도체 투자",
    "gb2312": "深圳人工智能产业集群",
    "big5": "香港人工智慧沙盒",
}
EXPECTED_CODEC = {
    "shift_jis": "cp932",
    "euc_jp": "euc_jp",
    "euc_kr": "cp949",
    "gb2312": "gb18030",
    "big5": "cp950",
}


def feed(title: str, declaration: str | None) -> str:
    decl = f'<?xml version="1.0" encoding="{declaration}"?>' if declaration else ""
    return (
        f'{decl}<rss version="2.0"><channel><title>x</title><item><title>{title}</title>'
        f"<link>https://example.org/1</link><description>{title}。</description></item>"
        "</channel></rss>"
    )


# -- redecode -----------------------------------------------------------------


@pytest.mark.parametrize("encoding", list(TITLES))
@pytest.mark.parametrize(
    ("declaration", "content_type"),
    [
        (None, "application/rss+xml; charset=ISO-8859-1"),  # an Apache default
        ("utf-8", "application/rss+xml"),  # declared UTF-8, legacy bytes
        (None, "application/xml"),  # nothing declared at all
        ("iso-8859-1", "text/xml"),
    ],
)
def test_mislabelled_cjk_bodies_are_decoded_correctly(
    encoding: str, declaration: str | None, content_type: str
) -> None:
    title = TITLES[encoding]
    body = feed(title, declaration).encode(encoding)
    declared = declared_encodings(body, content_type)
    decoded = redecode(body, declared)
    assert decoded is not None
    assert decoded.encoding == EXPECTED_CODEC[encoding]
    assert title in decoded.text
    assert decoded.how == "detected" and decoded.replaced == 0


def test_a_declared_multibyte_encoding_beats_a_wrong_http_charset() -> None:
    # One Hangul syllable is too little for any detector; the XML declaration
    # (EUC-KR, decoding strictly) is right and the HTTP Latin-1 is not.
    body = (DATA / "encoding__euc-kr.xml").read_bytes()
    declared = declared_encodings(body, "application/xml; charset=iso-8859-1")
    assert declared == ["iso8859-1", "cp949"]
    decoded = redecode(body, declared)
    assert decoded is not None and (decoded.encoding, decoded.how) == ("cp949", "declared")
    assert "<title>\ub144</title>" in decoded.text


def test_a_declared_cjk_encoding_of_another_language_is_not_believed() -> None:
    # Shift_JIS bytes happen to decode as GB18030; a Japanese feed declaring
    # GB2312 is read as Japanese.
    title = "東京のAI企業、資金調達。経産省が生成AIの指針を改定"
    body = feed(title, "gb2312").encode("shift_jis")
    body.decode("gb18030")  # the trap: strictly valid GB18030
    assert redecode(body, ["gb18030"], cjk_encodings(["ja"])) is not None
    decoded = redecode(body, ["gb18030"], cjk_encodings(["ja"]))
    assert decoded is not None and decoded.encoding == "cp932" and title in decoded.text
    # Without the language, the declaration stands (it decodes strictly).
    assert redecode(body, ["gb18030"]) == redecode(body, ["gb18030"], CJK_CANDIDATES)


@pytest.mark.parametrize(
    ("name", "encoding", "text"),
    [
        ("illformed__chardet__shiftjis.xml", "cp932", "DrecomRSSに記事投稿が反映されない…"),
        ("illformed__chardet__eucjp.xml", "euc_jp", "ゲーム三昧な正月"),
        ("illformed__chardet__euckr.xml", "cp949", "EUC-KR 에서 TypeKey 한글닉네임 표시하기"),
        ("illformed__chardet__gb2312.xml", "gb18030", "不归移民漫画系列：专业工作"),
        ("illformed__chardet__big5.xml", "cp950", "我希望??很容易?其翻?成中文"),
    ],
)
def test_feedparser_suite_undeclared_files(name: str, encoding: str, text: str) -> None:
    body = (DATA / name).read_bytes()
    decoded = redecode(body, declared_encodings(body, "application/xml; charset=utf-8"))
    assert decoded is not None and decoded.encoding == encoding
    assert text in decoded.text


def test_valid_utf8_wins_over_a_wrong_declaration() -> None:
    body = feed("深圳人工智能产业集群", "gb2312").encode("utf-8")
    decoded = redecode(body, ["gb18030"])
    assert decoded is not None and (decoded.encoding, decoded.how) == ("utf-8", "valid UTF-8")


def test_byte_order_mark_decides() -> None:
    body = "\ufeff" + feed("香港人工智慧沙盒", "big5")
    decoded = redecode(body.encode("utf-16-le"), ["cp950"])
    assert decoded is not None and decoded.how == "byte-order mark"
    assert "香港人工智慧沙盒" in decoded.text


def test_a_few_undecodable_bytes_are_replaced_and_marked() -> None:
    # A GBK summary cut in the middle of a character.
    good = "深圳人工智能产业集群加速发展，多家机器人企业完成新一轮融资。" * 3
    body = feed(good, None).encode("gbk").replace("。</description>".encode("gbk"), b"\xd6</d")
    body = body.replace(b"</d</item>", b"</description></item>")
    decoded = redecode(body, [])
    assert decoded is not None and decoded.encoding == "gb18030" and decoded.replaced == 1
    assert good in decoded.text and "\ufffd" in decoded.text


def test_hopeless_bytes_have_no_trustworthy_decoding() -> None:
    noise = bytes([0x81, 0xFF, 0x8D, 0x80, 0x90, 0xFE, 0x9D, 0xFF]) * 40
    body = b'<rss version="2.0"><channel><title>' + noise + b"</title></channel></rss>"
    assert redecode(body, ["utf-8"]) is None


def test_western_text_is_not_forced_into_a_cjk_reading() -> None:
    text = "Ceci est un texte français, très naïf et déjà célèbre."
    body = f'<rss version="2.0"><channel><title>{text}</title></channel></rss>'.encode("latin-1")
    decoded = redecode(body, [])
    assert decoded is not None and decoded.encoding == "cp1252"
    assert "très naïf et déjà célèbre" in decoded.text


# -- declarations and names -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "declared"),
    [
        (b'<?xml version="1.0" encoding="Shift_JIS"?><rss/>', "application/xml", ["cp932"]),
        (
            b"<?xml version='1.0' encoding='GB2312'?><rss/>",
            "text/xml; charset=UTF-8",
            ["utf-8", "gb18030"],
        ),
        (b"<rss/>", 'application/rss+xml; charset="EUC-KR"', ["cp949"]),
        (
            b'<?xml version="1.0" encoding="big5"?><rss/>',
            "application/xml; charset=big5",
            ["cp950"],
        ),
        (b'<?xml version="1.0" encoding="bogus"?><rss/>', "application/xml", []),
        (b'<?xml version="1.0"?><rss/>', "application/xml", []),
    ],
)
def test_declared_encodings(body: bytes, content_type: str, declared: list[str]) -> None:
    assert declared_encodings(body, content_type) == declared


def test_codec_names_are_widened_to_supersets() -> None:
    assert [codec_name(n) for n in ("SHIFT_JIS", "sjis", "EUC-KR", "gbk", "Big5", "EUC-JP")] == [
        "cp932", "cp932", "cp949", "gb18030", "cp950", "euc_jp",
    ]  # fmt: skip
    assert codec_name("no-such-charset") is None


def test_single_byte_encodings() -> None:
    assert all(is_single_byte(e) for e in ("ISO-8859-1", "windows-1252", "us-ascii", "koi8-r"))
    assert not any(is_single_byte(e) for e in ("utf-8", "utf-16", "shift_jis", "gb18030", "?"))


def test_language_and_country_hints_pick_the_cjk_candidates() -> None:
    assert cjk_encodings(["", "ja-JP"]) == JAPANESE
    assert cjk_encodings(["KR"]) == KOREAN
    assert cjk_encodings(["zh-CN"]) == SIMPLIFIED_CHINESE
    assert cjk_encodings(["zh-TW"]) == cjk_encodings(["zh_HK"]) == TRADITIONAL_CHINESE
    assert cjk_encodings(["en", "TW"]) == cjk_encodings(["zh-Hant"]) == TRADITIONAL_CHINESE
    assert cjk_encodings(["en", "SG"]) == CJK_CANDIDATES
    assert expects_cjk(["", "CN", "en"]) and expects_cjk(["ko-KR"])
    assert not expects_cjk(["en-US", "SG", ""])


# -- mojibake ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cjk_expected", "sign"),
    [
        ("東京\ufffdの企業", True, "U+FFFD"),
        ("æ±äº¬ã®AIä¼æ¥­", False, "UTF-8 read as windows-1252"),  # 東京のAI企業
        ("Itâ€™s here", False, "UTF-8 read as windows-1252"),
        ("cafÃ© culture", False, "UTF-8 read as windows-1252"),
        ("“Œ‹ž‚ÌAIŠé‹Æ", True, "Latin-1 characters where CJK"),  # Shift_JIS as cp1252
        ("³â", True, "Latin-1 characters where CJK"),  # EUC-KR 년 as Latin-1
    ],
)
def test_garbled_text_is_recognised(text: str, cjk_expected: bool, sign: str) -> None:
    reason = garbled(text, cjk_expected=cjk_expected)
    assert reason is not None and sign in reason


@pytest.mark.parametrize(
    ("text", "cjk_expected"),
    [
        ("東京のAI企業、資金調達", True),
        ("Pokémon の新作、カフェ「Café」で発表", True),
        ("Pokémon café", True),  # single accents in an English post of a ja feed
        ("It’s “quoted” — and…", True),  # typography is not mojibake
        ("Die Straße“ und „Gasse“", False),  # German quotes look like a UTF-8 pair
        ("São Paulo, Zürich, Ærø", False),
        ("", True),
    ],
)
def test_real_text_is_not_garbled(text: str, cjk_expected: bool) -> None:
    assert garbled(text, cjk_expected=cjk_expected) is None


def test_long_latin_runs_are_suspicious_but_not_garbled() -> None:
    text = "“Œ‹ž‚Ì"  # no language hint: worth a second look, not proof
    assert garbled(text, cjk_expected=False) is None
    assert suspicious(text, cjk_expected=False) is not None
    assert suspicious("naïve café", cjk_expected=False) is None
    assert suspicious("——……", cjk_expected=True) is None


# -- utf8_document -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "document"),
    [
        (
            '<?xml version="1.0" encoding="Shift_JIS"?><rss>東京</rss>',
            '<?xml version="1.0" encoding="utf-8"?><rss>東京</rss>',
        ),
        (
            "\ufeff<?xml version='1.0' encoding='big5' ?><rss/>",
            "<?xml version='1.0' encoding=\"utf-8\" ?><rss/>",
        ),
        ('<?xml version="1.0"?><rss/>', '<?xml version="1.0" encoding="utf-8"?><rss/>'),
        ("<rss>서울</rss>", "<rss>서울</rss>"),
    ],
)
def test_utf8_document_rewrites_the_declaration(text: str, document: str) -> None:
    assert utf8_document(text) == document.encode("utf-8")


def test_utf8_with_a_stray_byte_stays_utf8() -> None:
    # Rule 4b: one bad byte among many valid multi-byte characters is damage, not a
    # wrong charset: UTF-8 wins before chardet, the byte becomes one U+FFFD.
    text = "<rss><title>東京の人工知能企業が資金調達 大阪 BAD 京都</title></rss>"
    body = text.encode().replace(b"BAD", b"\xff")
    decoded = redecode(body, ["utf-8"])
    assert decoded is not None and decoded.encoding == "utf-8" and decoded.replaced == 1
    assert decoded.text == text.replace("BAD", "\ufffd")
    assert decoded.how == "UTF-8, 1 invalid bytes replaced"
    # Nothing declared: XML's default is UTF-8, the same rule holds.
    undeclared = redecode(body, [])
    assert undeclared is not None and undeclared.encoding == "utf-8"
    # Another charset declared: the rule does not apply.
    assert redecode(body, ["shift_jis"]) != decoded
