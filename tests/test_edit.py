"""`digest edit`: an editor's decisions about a week's issue, end to end.

A real SQLite file holding real posts, the CLI in-process with a fixed clock,
decision files read with `--file` (as scripts do), and the interactive path
with `$EDITOR` set to small Python scripts that rewrite the file: real
subprocesses, as an editor is. The decisions are checked, kept per week,
applied by `preview` and `build`, survive rebuilds and new reports, and are
refused once the week's issue went out.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.cli import clock, main
from digest.cli.edit import NOTE_MARK, PROBLEM, STORIES_MARK
from digest.config import Settings
from digest.models import DROP, TOP, EditorialDecisions, Post, story_key
from digest.state.store import IssueFrozen, Store

WEEK = "2026-W47"  # publish mon 08:00 Asia/Tokyo: window 2026-11-15T23:00Z → 11-22T23:00Z
NOW = datetime(2026, 11, 19, 3, 0, tzinfo=UTC)  # W47 is being collected: due next
BASE = datetime(2026, 11, 17, 1, 0, tzinfo=UTC)
KR_FEED = "https://feeds.example.com/kr.xml"
JP_FEED = "https://feeds.example.com/jp.xml"
WORLD_FEED = "https://feeds.example.com/world.xml"
CONFIG = f"""
[digest]
title = "Asia AI Weekly"
language = "en"
countries = ["KR", "JP"]
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
SAMSUNG = "삼성전자, 판교에 AI 연구소 개설"
SONY = "ソニー、画像認識AIの新チップを発表"
RAKUTEN = "楽天、生成AIの新サービスを開始"
OPENAI = "OpenAI releases a new reasoning model"
BENCH = "A new benchmark for language models"


def post(i: int, feed: str, title: str, url: str = "", hours: float | None = None) -> Post:
    at = BASE + timedelta(hours=i if hours is None else hours)
    return Post(
        feed_url=feed,
        post_id=f"p{i}",
        url=url or f"https://news.example.com/{i}",
        title=title,
        summary=f"{title}.",
        published=at,
        first_seen=at + timedelta(minutes=5),
    )


POSTS = [
    post(0, KR_FEED, SAMSUNG),
    post(1, WORLD_FEED, SAMSUNG, "https://other.example.com/samsung"),  # merged: 2 outlets
    post(2, JP_FEED, SONY),
    post(3, WORLD_FEED, OPENAI),
    post(4, WORLD_FEED, BENCH),
    post(5, JP_FEED, RAKUTEN),
]
KEY = {p.title: story_key(p.url) for p in POSTS if p.post_id != "p1"}


@pytest.fixture
def world(
    write_config: Callable[..., tuple[Path, Settings]], monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Settings]:
    monkeypatch.setattr(clock, "utc_now", lambda: NOW)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    path, settings = write_config(CONFIG)
    with Store(settings.storage_path) as store:
        store.add_posts(POSTS)
    return path, settings


def digest(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def show(config: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert digest(config, "edit", "--show") == 0
    return capsys.readouterr().out


def story_lines(text: str) -> dict[str, list[str]]:
    """Title → the words of its line (command, section, id)."""
    body = text.split(STORIES_MARK, 1)[1]
    rows = [r.split(maxsplit=3) for r in body.splitlines() if r and not r.startswith("#")]
    return {r[3]: r[:3] for r in rows}


def saved(settings: Settings) -> EditorialDecisions | None:
    with Store(settings.storage_path) as store:
        return store.editorial_decisions(WEEK)


def test_show_prints_every_story_with_its_command_section_and_id(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = world
    text = show(config, capsys)
    assert text.startswith(f"# digest edit {WEEK}: issue #1, 5 stories, due Mon 2026-11-23 08:00")
    assert text.index(NOTE_MARK) < text.index(STORIES_MARK)
    lines = story_lines(text)
    # The event two outlets reported is the ranking's lead; the rest are picked.
    assert lines[SAMSUNG] == ["top", "KR", KEY[SAMSUNG]]
    assert lines[SONY] == ["pick", "JP", KEY[SONY]]
    assert lines[OPENAI] == ["pick", "GLOBAL", KEY[OPENAI]]
    assert "# Change a line's section to move the story: KR JP GLOBAL." in text


def test_decisions_from_a_file_shape_preview_build_and_every_rebuild(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, settings = world
    text = show(config, capsys)
    text = text.replace(NOTE_MARK, NOTE_MARK + "\nA **quiet** week in Seoul.\n#not a heading")
    text = text.replace(f"pick JP     {KEY[SONY]}", f"top  JP     {KEY[SONY]}")  # a lead
    text = text.replace(f"top  KR     {KEY[SAMSUNG]}", f"pick KR     {KEY[SAMSUNG]}")
    text = text.replace(f"pick JP     {KEY[RAKUTEN]}", f"pick GLOBAL {KEY[RAKUTEN]}")  # moved
    text = "\n".join(r for r in text.splitlines() if KEY[OPENAI] not in r)  # deleted: dropped
    decisions_file = tmp_path / "decisions.txt"
    decisions_file.write_text(text, encoding="utf-8")
    assert digest(config, "edit", "--file", str(decisions_file)) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{WEEK}: saved: a note of 26 characters, 1 lead story of yours")
    kept = saved(settings)
    assert kept is not None and kept.tops_chosen and kept.note == "A **quiet** week in Seoul."
    actions = {d.story: (d.action, d.section) for d in kept.stories}
    assert actions == {
        KEY[SONY]: (TOP, ""),
        KEY[RAKUTEN]: ("pick", "GLOBAL"),
        KEY[OPENAI]: (DROP, ""),  # its line was deleted
    }
    # The file shows what was decided, the dropped story last.
    again = show(config, capsys)
    assert "A **quiet** week in Seoul." in again and "#not a heading" not in again
    lines = story_lines(again)
    assert lines[SONY][0] == "top" and lines[SAMSUNG][0] == "pick"
    assert lines[RAKUTEN][:2] == ["pick", "GLOBAL"] and lines[OPENAI][0] == "drop"
    assert again.index("# Dropped (1)") < again.index(OPENAI)
    # preview shows it; build archives it.
    assert digest(config, "preview") == 0
    page = Path(capsys.readouterr().out.strip().removeprefix("file://"))
    html = page.read_text(encoding="utf-8")
    assert "From the editor" in html and "<strong" in html and OPENAI not in html
    assert html.index('id="top-stories"') < html.index(SONY) < html.index('id="section-kr"')
    assert digest(config, "build", "--week", WEEK) == 0
    archived = json.loads((settings.archive.dir / f"{WEEK}.json").read_text("utf-8"))
    assert archived["note"] == "A **quiet** week in Seoul." and len(archived["top"]) == 1
    titles = {s["code"]: [st["title"] for st in s["stories"]] for s in archived["sections"]}
    assert titles == {"KR": [SAMSUNG], "JP": [SONY], "GLOBAL": [RAKUTEN, BENCH]}
    # New reports arrive: an earlier report of Sony's chip from another feed now
    # leads that story, and a new story. The decisions still hold.
    with Store(settings.storage_path) as store:
        store.add_posts(
            [
                post(6, WORLD_FEED, SONY, "https://early.example.com/sony", hours=1.5),
                post(7, KR_FEED, "네이버, 초거대 AI 요금 인하"),
            ]
        )
    assert digest(config, "build", "--week", WEEK) == 0
    rebuilt = json.loads((settings.archive.dir / f"{WEEK}.json").read_text("utf-8"))
    jp = next(s for s in rebuilt["sections"] if s["code"] == "JP")["stories"]
    assert jp[0]["link"] == "https://early.example.com/sony" and rebuilt["top"] == [jp[0]["anchor"]]
    all_titles = [st["title"] for s in rebuilt["sections"] for st in s["stories"]]
    assert OPENAI not in all_titles and "네이버, 초거대 AI 요금 인하" in all_titles


def test_explain_says_a_story_was_moved_by_the_editor(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, _ = world
    text = show(config, capsys)
    moved = tmp_path / "moved.txt"
    moved.write_text(
        text.replace(f"pick JP     {KEY[RAKUTEN]}", f"pick GLOBAL {KEY[RAKUTEN]}"), encoding="utf-8"
    )
    assert digest(config, "edit", "--file", str(moved)) == 0
    capsys.readouterr()
    assert digest(config, "explain", "--week", WEEK) == 0
    blocks = {b.splitlines()[0]: b for b in capsys.readouterr().out.strip().split("\n\n")}
    rakuten = blocks[f"GLOBAL  {RAKUTEN}"]
    assert "moved    here by the editor (digest edit); the classifier chose JP" in rakuten
    assert "why      the classifier's: JP" in rakuten
    assert "is not in [digest] countries" not in rakuten
    sony = next(b for b in blocks.values() if SONY in b)
    assert "moved " not in sony  # where the classifier put it
    assert digest(config, "explain", "--week", WEEK, "--json") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]  # JSON lines
    by_title = {r["title"]: r for r in rows}
    assert by_title[RAKUTEN]["moved_from"] == "JP" and by_title[SONY]["moved_from"] == ""


def test_a_file_left_as_shown_saves_nothing(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, settings = world
    same = tmp_path / "same.txt"
    same.write_text(show(config, capsys), encoding="utf-8")
    assert digest(config, "edit", "--file", str(same)) == 0
    assert capsys.readouterr().out == f"{WEEK}: no changes\n"
    assert saved(settings) is None  # the issue goes out exactly as digest builds it


def test_reordering_a_section_keeps_the_editors_order(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, settings = world
    text = show(config, capsys)
    rows = text.splitlines()
    i, j = (n for n, r in enumerate(rows) if KEY[SONY] in r or KEY[RAKUTEN] in r)
    rows[i], rows[j] = rows[j], rows[i]
    reordered = tmp_path / "order.txt"
    reordered.write_text("\n".join(rows), encoding="utf-8")
    assert digest(config, "edit", "--file", str(reordered)) == 0
    kept = saved(settings)
    assert kept is not None and not kept.tops_chosen
    # Ranked, Rakuten (newer) came first; the editor put Sony first.
    assert {d.story: d.position for d in kept.stories} == {KEY[SONY]: 0, KEY[RAKUTEN]: 1}
    lines = list(story_lines(show(config, capsys)))
    assert lines.index(SONY) < lines.index(RAKUTEN)


def test_problems_are_refused_with_their_line_numbers(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, settings = world
    text = show(config, capsys)
    rows = text.splitlines()
    at = {title: n for n, r in enumerate(rows, 1) for title in KEY if KEY[title] in r}
    rows[at[SONY] - 1] = f"pik JP {KEY[SONY]} x"
    rows[at[RAKUTEN] - 1] = f"pick XX {KEY[RAKUTEN]} x"
    rows[at[BENCH] - 1] = "pick GLOBAL 0123456789 x"
    rows += [f"pick KR {KEY[SAMSUNG]} again"]
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(rows), encoding="utf-8")
    assert digest(config, "edit", "--file", str(bad)) == 2
    err = capsys.readouterr().err.splitlines()
    expected = {
        at[SONY]: "'pik' is not a command: pick, top or drop",
        at[RAKUTEN]: "'XX' is not a section of this digest: KR JP GLOBAL",
        at[BENCH]: "'0123456789' is no story of this issue",
        len(rows): f"story {KEY[SAMSUNG]} is on line {at[SAMSUNG]} already",
    }
    assert err[:4] == [f"{bad}:{n}: {expected[n]}" for n in sorted(expected)]  # in line order
    assert err[4] == f"digest: error: {bad}: 4 problem(s): nothing saved"
    # More than three lead stories; a file without its marks.
    tops = "\n".join(r.replace("pick", "top ", 1) for r in text.splitlines())
    bad.write_text(tops, encoding="utf-8")
    assert digest(config, "edit", "--file", str(bad)) == 2
    assert "5 lead stories (lines " in capsys.readouterr().err
    bad.write_text(text.replace(STORIES_MARK, "# stories"), encoding="utf-8")
    assert digest(config, "edit", "--file", str(bad)) == 2
    assert "is missing: put it back" in capsys.readouterr().err
    assert saved(settings) is None


def test_a_week_that_went_out_is_not_edited(
    world: tuple[Path, Settings], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config, settings = world
    file = tmp_path / "f.txt"
    file.write_text(show(config, capsys), encoding="utf-8")
    frozen_at = NOW + timedelta(hours=1)
    with Store(settings.storage_path) as store:
        store.issue_number(WEEK, NOW)
        store.freeze_issue(WEEK, POSTS, frozen_at)
        # The store refuses too, in the transaction that would write: an editor who
        # saves while the send starts changes nothing.
        with pytest.raises(IssueFrozen):
            store.save_editorial_decisions(EditorialDecisions(WEEK, note="late"), NOW)
    assert digest(config, "edit", "--week", WEEK, "--file", str(file)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"digest: error: {WEEK}: its issue started going out at 2026-11-19 04:00 UTC "
        "and can no longer be edited"
    )
    assert saved(settings) is None
    assert digest(config, "edit", "--week", WEEK, "--show") == 0  # reading is fine


# --- the interactive path: $EDITOR is a real program ---------------------------------


def editor(
    tmp_path: Path, body: str, monkeypatch: pytest.MonkeyPatch, name: str = "EDITOR"
) -> Path:
    """A Python script as the editor: `body` runs with `path` (the file) and
    `calls` (how many times it ran before) defined."""
    script = tmp_path / "fake_editor.py"
    counter = tmp_path / "editor-calls"
    script.write_text(
        "import sys, pathlib\n"
        f"counter = pathlib.Path({str(counter)!r})\n"
        "calls = int(counter.read_text()) if counter.exists() else 0\n"
        "counter.write_text(str(calls + 1))\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "text = path.read_text(encoding='utf-8')\n" + body,
        encoding="utf-8",
    )
    monkeypatch.setenv(name, f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}")
    return counter


def test_the_editor_rewrites_the_file_and_the_decisions_are_saved(
    world: tuple[Path, Settings],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, settings = world
    editor(
        tmp_path,
        f"text = text.replace({NOTE_MARK!r}, {NOTE_MARK!r} + '\\n今週は静かでした。')\n"
        f"text = text.replace('pick GLOBAL {KEY[BENCH]}', 'd    GLOBAL {KEY[BENCH]}')\n"
        "path.write_text(text, encoding='utf-8')\n",
        monkeypatch,
        name="VISUAL",  # $VISUAL wins over $EDITOR, as for git
    )
    monkeypatch.setenv("EDITOR", "false")
    assert digest(config, "edit") == 0
    assert capsys.readouterr().out.startswith(f"{WEEK}: saved: a note of 9 characters, 1 dropped")
    kept = saved(settings)
    assert kept is not None and kept.note == "今週は静かでした。"
    assert [(d.story, d.action) for d in kept.stories] == [(KEY[BENCH], DROP)]


def test_a_file_with_problems_opens_again_with_them_at_the_top(
    world: tuple[Path, Settings],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, settings = world
    seen = tmp_path / "seen.txt"
    editor(
        tmp_path,
        "if calls == 0:\n"
        f"    text = text.replace('pick JP     {KEY[SONY]}', 'pik JP     {KEY[SONY]}')\n"
        "else:\n"
        f"    pathlib.Path({str(seen)!r}).write_text(text, encoding='utf-8')\n"
        f"    text = text.replace('pik JP     {KEY[SONY]}', 'drop JP     {KEY[SONY]}')\n"
        "path.write_text(text, encoding='utf-8')\n",
        monkeypatch,
    )
    assert digest(config, "edit") == 0
    reopened = seen.read_text(encoding="utf-8").splitlines()
    problem = reopened[1]
    assert reopened[0].startswith(PROBLEM) and problem.startswith(f"{PROBLEM}line ")
    line = int(problem.removeprefix(f"{PROBLEM}line ").split(":")[0])
    assert reopened[line - 1].startswith("pik JP")  # the number is the line's, as shown
    assert problem.endswith("'pik' is not a command: pick, top or drop")
    kept = saved(settings)
    assert kept is not None and [(d.story, d.action) for d in kept.stories] == [(KEY[SONY], DROP)]


def test_saving_the_problems_unchanged_or_emptying_the_file_saves_nothing(
    world: tuple[Path, Settings],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, settings = world
    counter = editor(
        tmp_path,
        "if calls == 0:\n"
        "    path.write_text(text.replace('\\npick ', '\\npik ', 1), encoding='utf-8')\n",
        monkeypatch,
    )
    assert digest(config, "edit") == 2
    err = capsys.readouterr().err
    assert "'pik' is not a command" in err and "problem(s) unchanged: nothing saved" in err
    assert counter.read_text() == "2"
    counter.unlink()
    editor(tmp_path, "path.write_text('', encoding='utf-8')\n", monkeypatch)
    assert digest(config, "edit") == 0
    assert "the file was emptied: nothing changed" in capsys.readouterr().err
    monkeypatch.setenv("EDITOR", "false")
    assert digest(config, "edit") == 2
    assert "the editor false exited with status 1: nothing saved" in capsys.readouterr().err
    # No editor named and no terminal (cron, a pipe): refused at once, never vi waiting.
    monkeypatch.delenv("EDITOR")
    assert digest(config, "edit") == 2
    assert "no editor: $VISUAL and $EDITOR are not set" in capsys.readouterr().err
    assert saved(settings) is None


def test_nothing_but_edit_opens_an_editor(
    world: tuple[Path, Settings],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, _ = world
    counter = editor(tmp_path, "", monkeypatch)
    assert digest(config, "preview") == 0
    assert digest(config, "build", "--week", WEEK) == 0
    assert not counter.exists()
