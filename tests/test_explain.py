"""`digest explain`: why each story is in its section, from a real SQLite file
holding real posts, through the CLI in-process; and one typed headline, without
the database, as an editor checks a name just added to the knowledge base."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.cli import build_parser, clock, main
from digest.config import Settings
from digest.models import GLOBAL_SECTION, Post
from digest.run.explain import NO_NAMES, explain_week, section_of
from digest.state.store import Store

WEEK = "2026-W47"  # publish mon 08:00 Asia/Tokyo: window 2026-11-15T23:00Z → 11-22T23:00Z
BASE = datetime(2026, 11, 17, 1, 0, tzinfo=UTC)
KR_FEED = "https://feeds.example.com/kr.xml"
JP_FEED = "https://feeds.example.com/jp.xml"
WORLD_FEED = "https://feeds.example.com/world.xml"
CONFIG = f"""
[digest]
title = "Asia AI Weekly"
language = "en"
[[feeds]]
url = "{KR_FEED}"
name = "KR AI"
country = "KR"
[[feeds]]
url = "{JP_FEED}"
name = "JP AI"
country = "JP"
[[feeds]]
url = "{WORLD_FEED}"
name = "World AI"
"""
KR_TITLE = "삼성전자, 판교에 AI 연구소 개설"
JP_TITLE = "ソニー、画像認識AIの新チップを発表"
US_TITLE = "OpenAI releases a new reasoning model"
NAMELESS_TITLE = "A new benchmark for language models"
LONG_TITLE = "Kakao " + "and a very long headline that goes on " * 6

WriteConfig = Callable[..., tuple[Path, Settings]]


def post(i: int, feed: str, title: str, summary: str, url: str = "") -> Post:
    return Post(
        feed_url=feed,
        post_id=f"p{i}",
        url=url or f"https://news.example.com/{i}",
        title=title,
        summary=summary,
        published=BASE + timedelta(hours=i),
        first_seen=BASE + timedelta(hours=i, minutes=5),
    )


POSTS = [
    post(0, KR_FEED, KR_TITLE, "삼성전자가 판교에 새 연구소를 연다."),
    # The same report from a second outlet, an hour later: merged into the first.
    post(
        1,
        WORLD_FEED,
        KR_TITLE,
        "삼성전자가 판교에 새 연구소를 연다.",
        "https://other.example.com/x",
    ),
    post(2, JP_FEED, JP_TITLE, "ソニーグループは新しいチップを発表した。"),
    post(3, WORLD_FEED, US_TITLE, "OpenAI said on Tuesday the model is faster."),
    post(4, WORLD_FEED, NAMELESS_TITLE, "Researchers published a benchmark."),
    post(5, WORLD_FEED, LONG_TITLE, "Kakao Corp said so."),
]


@pytest.fixture
def world(write_config: WriteConfig) -> tuple[Path, Settings]:
    path, settings = write_config(CONFIG)
    with Store(settings.storage_path) as store:
        assert store.add_posts(POSTS) == len(POSTS)
    return path, settings


def explain(config: Path, *args: str) -> int:
    return main(["--config", str(config), "explain", *args])


def blocks(out: str) -> dict[str, str]:
    """Each story's block of the text output, by the title on its first line."""
    found = {}
    for block in out.strip().split("\n\n"):
        section, _, title = block.splitlines()[0].partition("  ")
        found[title] = f"{section}\n{block}"
    return found


def test_each_story_names_its_section_and_the_names_behind_it(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = world
    assert explain(config, "--week", WEEK) == 0
    out = capsys.readouterr().out
    stories = blocks(out)
    assert set(stories) >= {KR_TITLE, JP_TITLE, US_TITLE, NAMELESS_TITLE}
    kr = stories[KR_TITLE]
    assert kr.startswith("KR\n")
    assert "삼성전자" in kr and "kr/samsung-electronics (company)" in kr
    assert "KR AI · 2 outlets, 1 other report merged" in kr
    assert "(the feed's country, and the title names it)" in kr
    jp = stories[JP_TITLE]
    assert jp.startswith("JP\n")
    assert "ソニー" in jp and "jp/sony (company)" in jp
    us = stories[US_TITLE]
    assert us.startswith(f"{GLOBAL_SECTION}\n")
    assert "us/openai (company)" in us
    assert "US is not in [digest] countries: Global" in us
    assert NO_NAMES in stories[NAMELESS_TITLE]
    assert NO_NAMES not in kr
    # In section order, as the issue shows them: the configured countries, Global last.
    assert out.index(KR_TITLE) < out.index(JP_TITLE) < out.index(US_TITLE)


def test_the_points_add_up_to_the_scores(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = world
    assert explain(config, "--week", WEEK, "--story", "ソニー") == 0
    lines = capsys.readouterr().out.splitlines()
    assert "    scores   JP 5.5" in lines
    points = [
        float(line.split()[2])
        for line in lines
        if line.split()[0] in ("title", "summary", "feed") and line.split()[1] == "JP"
    ]
    assert points == [3, 0.5, 1, 1]  # title, its subject bonus, summary, feed hint
    assert "    title    JP +0.5    (named first: the subject)" in lines


def test_explanations_agree_with_the_sections_of_the_build(world: tuple[Path, Settings]) -> None:
    _, settings = world
    with Store(settings.storage_path) as store:
        found = explain_week(settings, store, WEEK, BASE + timedelta(days=7))
    assert len(found) == len(POSTS) - 1  # one merged
    for item in found:
        assert section_of(item.verdict, settings) == item.section


def test_json_is_one_object_per_story(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = world
    assert explain(config, "--week", WEEK, "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_title = {row["title"]: row for row in rows}
    assert len(rows) == len(POSTS) - 1
    kr = by_title[KR_TITLE]
    assert (kr["week"], kr["section"], kr["country"], kr["hint"]) == (WEEK, "KR", "KR", "KR")
    assert (kr["outlets"], kr["merged"], kr["source"]) == (2, 1, "KR AI")
    assert kr["also"] == [{"source": "World AI", "url": "https://other.example.com/x"}]
    assert kr["evidence"][0] == {
        "text": "삼성전자",
        "key": "kr/samsung-electronics",
        "kind": "company",
        "country": "KR",
        "where": "title",
        "points": 3.0,
    }
    assert next(iter(kr["scores"])) == "KR"  # best first
    assert by_title[JP_TITLE]["section"] == "JP"
    us = by_title[US_TITLE]
    assert (us["section"], us["country"]) == (GLOBAL_SECTION, "US")
    assert us["evidence"][0]["key"] == "us/openai"
    assert by_title[NAMELESS_TITLE]["evidence"] == []
    assert by_title[NAMELESS_TITLE]["reason"]


def test_story_keeps_titles_containing_the_text_or_the_url(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = world
    assert explain(config, "--week", WEEK, "--story", "OPENAI releases") == 0
    assert list(blocks(capsys.readouterr().out)) == [US_TITLE]
    assert explain(config, "--week", WEEK, "--story", "https://news.example.com/2") == 0
    assert list(blocks(capsys.readouterr().out)) == [JP_TITLE]
    # The URL of a report merged into a story finds the story.
    assert explain(config, "--week", WEEK, "--story", "https://other.example.com/x") == 0
    assert list(blocks(capsys.readouterr().out)) == [KR_TITLE]
    assert explain(config, "--week", WEEK, "--story", "news.example.com/2") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{WEEK}: no story matches 'news.example.com/2' ({len(POSTS)} posts stored)" in err


def test_the_default_week_is_the_one_build_uses(
    world: tuple[Path, Settings],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, _ = world
    # Wednesday of the next week: W47 is the newest issue already due.
    monkeypatch.setattr(clock, "utc_now", lambda: datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert explain(config, "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {row["week"] for row in rows} == {WEEK}
    # A week without posts is no error: it says so.
    assert explain(config, "--week", "2026-W40") == 0
    assert "2026-W40: no stories" in capsys.readouterr().err


def test_lines_fit_100_columns(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = world
    assert explain(config, "--week", WEEK) == 0
    out = capsys.readouterr().out
    assert "Kakao and a very long headline" in out

    def width(line: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)

    assert max(width(line) for line in out.splitlines()) <= 100


def test_a_typed_headline_is_explained_without_the_database(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    config, settings = write_config(CONFIG)
    assert explain(config, "--title", "MediaTek unveils a chip") == 0
    out = capsys.readouterr().out
    assert out.startswith("TW  MediaTek unveils a chip\n")
    assert "title    TW +3      MediaTek  tw/mediatek (company)" in out
    assert not settings.storage_path.exists()
    assert explain(config, "--title", "MediaTek unveils a chip", "--json") == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["section"], row["evidence"][0]["key"]) == ("TW", "tw/mediatek")
    # A local feed's hint decides a headline that names nothing.
    assert explain(config, "--title", "A lab opens", "--hint", "kr", "--local", "--json") == 0
    row = json.loads(capsys.readouterr().out)
    assert (row["section"], row["hint"], row["local"]) == ("KR", "KR", True)
    assert [e["where"] for e in row["evidence"]] == ["feed"]


def test_a_name_added_by_the_editor_shows_at_once(
    tmp_path: Path, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = write_config(CONFIG)
    title = "Zorblax Robotics raises a round"
    assert explain(config, "--title", title) == 0
    assert NO_NAMES in capsys.readouterr().out
    (tmp_path / "entities.tsv").write_text(
        "id\tkind\tcountry\ten\tja\tzh_hans\tzh_hant\tko\taliases\tsource\n"
        "sg/zorblax\tcompany\tSG\tZorblax Robotics\t\t\t\t\t\teditor\n",
        encoding="utf-8",
    )
    config, _ = write_config(CONFIG + '[aliases]\nIN = ["Qwimbly Park"]\n')
    assert explain(config, "--title", title, "--summary", "Based in Qwimbly Park.") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"SG  {title}\n")
    assert "Zorblax Robotics  sg/zorblax (company)" in out
    assert "qwimbly park (a name in places.toml or [aliases])" in out


@pytest.mark.parametrize(
    "args",
    [
        ["--summary", "x"],
        ["--local"],
        ["--title", "x", "--week", WEEK],
        ["--title", "x", "--story", "y"],
        ["--title", "x", "--local"],
    ],
    ids=" ".join,
)
def test_options_that_do_not_go_together(
    args: list[str], write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = write_config(CONFIG)
    assert explain(config, *args) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("digest: error: --")


@pytest.mark.parametrize("args", [["--week", "2026-47"], ["--title", "x", "--hint", "Korea"]])
def test_bad_values_are_argument_errors(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["explain", *args])
    assert info.value.code == 2
    assert "digest explain: error: argument" in capsys.readouterr().err


def test_explain_has_help_for_itself_and_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["explain", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: digest explain")
    assert "entities.tsv" in out and "[aliases]" in out
    for option in ("--week", "--story", "--title", "--summary", "--hint", "--local", "--json"):
        assert f"  {option}" in out
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    parser = sub.choices["explain"]  # type: ignore[attr-defined]
    assert all(action.help for action in parser._actions)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "    explain" in capsys.readouterr().out
