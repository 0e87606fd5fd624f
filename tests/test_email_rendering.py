"""The email and the archive as a real browser lays them out (headless Chromium).

Renders the 80-story issue of benchmarks/email_render.py (CJK and English stories,
long URLs in summaries, long unbroken CJK titles, `also` links, a Global
section) with the real templates, then checks in Chromium, via tests/browser.py:

- the email at 375 and 600 px: no sideways scrolling, no element outside the
  viewport; the same without its <style> block (Gmail app, Outlook drop it),
  whose colours must then come from the inline styles;
- the web version at 375 and 1280 px;
- the archive: every internal link, followed from index.html, reaches a file
  and every #fragment an id.

Screenshots go to var/screenshots/ (git-ignored) for people to look at.
Without Chromium these tests fail (CI installs it with `make browser-deps`).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import browser
import pytest

from digest.config import Settings
from digest.models import Issue
from digest.render.issue import RenderedIssue, personalize, render_issue
from digest.web.archive import write_issue

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "var" / "screenshots"
UNSUBSCRIBE_URL = "https://digest.example.com/unsubscribe?token=1.abc"
PHONE, EMAIL_WIDTH, DESKTOP = 375, 600, 1280

_STYLE_BLOCK = re.compile(r"<style\b[^>]*>.*?</style\s*>", re.DOTALL | re.IGNORECASE)


def _load_bench() -> ModuleType:
    # The issue is the benchmark's, so the figures and the tests see the same email.
    spec = importlib.util.spec_from_file_location(
        "bench_email", ROOT / "benchmarks" / "email_render.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    """Fail, not skip: CI must run these, and installs Chromium for them."""
    if shutil.which("chromium") is None:
        pytest.fail(browser.INSTALL_HINT, pytrace=False)
    return browser.find_chromium()


@pytest.fixture(scope="module")
def rendered() -> dict[str, RenderedIssue]:
    return {
        lang: render_issue(bench.make_issue(lang), bench.make_settings(lang))
        for lang in ("ja", "en")
    }


@pytest.fixture(params=["ja", "en"])
def language(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _email_html(rendered: RenderedIssue) -> str:
    return personalize(rendered.html_email, UNSUBSCRIBE_URL, html=True)


def _without_style(document: str) -> str:
    """What Gmail's app and Outlook keep: the inline styles, no <style> block."""
    stripped, count = _STYLE_BLOCK.subn("", document)
    assert count >= 1, "the email has no <style> block (the @media rules live there)"
    return stripped


def _check_no_overflow(page: Path, layouts: dict[int, browser.Layout]) -> None:
    for width, layout in layouts.items():
        assert layout.client_width == width, f"the viewport is {layout.client_width}, not {width}"
    problems = [
        f"{page.name} at {width} px: {layout.describe()}"
        for width, layout in layouts.items()
        if layout.overflows
    ]
    assert not problems, "horizontal overflow:\n" + "\n".join(problems)


def _save(tmp_path: Path, name: str, document: str) -> Path:
    page = tmp_path / name
    page.write_text(document, encoding="utf-8")
    return page


def _measure_and_shoot(page: Path, name: str, widths: tuple[int, ...]) -> dict[int, browser.Layout]:
    """Lay `page` out at `widths`, save screenshots, then check there is no overflow."""
    layouts = browser.measure_layouts(page, widths)
    # Screenshots before the check: they are most useful when it fails.
    heights: dict[int, int | None] = {w: layout.scroll_height for w, layout in layouts.items()}
    for shot in browser.screenshots(page, heights, SCREENSHOTS, name):
        print(f"screenshot: {shot}")
    _check_no_overflow(page, layouts)
    return layouts


def test_email_fits_phone_and_desktop_widths(
    rendered: dict[str, RenderedIssue], language: str, tmp_path: Path
) -> None:
    page = _save(tmp_path, "email.html", _email_html(rendered[language]))
    layouts = _measure_and_shoot(page, f"email-{language}", (PHONE, EMAIL_WIDTH))
    # The container fills the phone and stops at 600 px; the @media rules apply on phones.
    assert layouts[PHONE].styles[".container"]["width"] == f"{PHONE}px"
    assert layouts[EMAIL_WIDTH].styles[".container"]["width"] == f"{EMAIL_WIDTH}px"
    assert layouts[PHONE].styles[".section-title"]["fontSize"] == "18px"  # @media (max-width)
    assert layouts[PHONE].styles["body"]["width"] == f"{PHONE}px"


def test_email_without_style_block_keeps_layout_and_colours(
    rendered: dict[str, RenderedIssue], language: str, tmp_path: Path
) -> None:
    styled = _save(tmp_path, "email.html", _email_html(rendered[language]))
    bare = _save(tmp_path, "email-nostyle.html", _without_style(styled.read_text("utf-8")))
    layouts = _measure_and_shoot(bare, f"email-nostyle-{language}", (PHONE, EMAIL_WIDTH))
    reference = browser.measure_layout(styled, DESKTOP)
    for width, layout in layouts.items():
        assert layout.style_blocks == 0
        # Colours and type come from style= attributes alone, as with the <style> block.
        for selector, prop in [
            ("body", "backgroundColor"),
            (".wrapper", "backgroundColor"),
            (".container", "backgroundColor"),
            (".container", "color"),
            (".link", "color"),
            (".section-title", "borderBottomColor"),
            (".story", "borderBottomWidth"),
            (".title", "fontSize"),
            (".summary", "fontSize"),
        ]:
            got, want = layout.styles[selector][prop], reference.styles[selector][prop]
            assert got == want, f"{width} px, no <style>: {selector} {prop} {got}, styled {want}"
        assert layout.styles[".container"]["backgroundColor"] == "rgb(255, 255, 255)"
        # Without the @media rules the .outer cell keeps its 8 px side padding (inline):
        # the container still fills the phone, less those gutters, and stops at 600 px.
        container = float(layout.styles[".container"]["width"].removesuffix("px"))
        assert min(width, EMAIL_WIDTH) - 16 <= container <= EMAIL_WIDTH, container


def test_web_version_fits_phone_and_desktop(
    rendered: dict[str, RenderedIssue], language: str, tmp_path: Path
) -> None:
    page = _save(tmp_path, "web.html", rendered[language].html_web)
    layouts = _measure_and_shoot(page, f"web-{language}", (PHONE, DESKTOP))
    assert layouts[DESKTOP].styles[".container"]["width"] == f"{EMAIL_WIDTH}px"


def _archive_settings(folder: Path, language: str) -> Settings:
    settings: Settings = bench.make_settings(language)
    return replace(settings, archive=replace(settings.archive, dir=folder))


def test_archive_has_no_broken_internal_links(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    settings = _archive_settings(folder, "ja")
    issues: list[Issue] = [bench.make_issue("ja", 30, week=f"2026-W{w}") for w in (45, 46, 47)]
    for issue in issues:
        write_issue(issue, render_issue(issue, settings), settings)

    crawl = browser.crawl_site(folder / "index.html", folder)

    assert not crawl.broken, "broken internal links:\n" + "\n".join(crawl.broken)
    visited = {p.relative_to(folder.resolve()).as_posix() for p in crawl.visited}
    expected = {"index.html"} | {f"{i.week}.html" for i in issues}
    expected |= {p.relative_to(folder).as_posix() for p in folder.glob("country/*.html")}
    assert expected <= visited, f"not reached from index.html: {sorted(expected - visited)}"
    # The crawl saw real links: the TOC fragments, and story links it didn't follow.
    fragments = [
        link for page in crawl.visited.values() for link in page.links if "#section-" in link
    ]
    assert len(fragments) >= len(issues) * 9
    assert any(link.startswith("https://www.example-news-") for link in crawl.external)
    assert folder.resolve() / "feed.xml" in crawl.files


def test_crawl_reports_a_broken_link_and_a_missing_fragment(tmp_path: Path) -> None:
    """The crawler itself: a missing file, a missing id and a file outside the site."""
    site = tmp_path / "site"
    site.mkdir()
    (tmp_path / "outside.html").write_text("<p>outside</p>", encoding="utf-8")
    (site / "index.html").write_text(
        '<a href="a.html#here">ok</a> <a href="a.html#gone">no id</a> '
        '<a href="missing.html">missing</a> <a href="../outside.html">outside</a> '
        '<a href="https://example.com/">external</a>',
        encoding="utf-8",
    )
    (site / "a.html").write_text('<h2 id="here">a</h2><a href="index.html">back</a>', "utf-8")

    crawl = browser.crawl_site(site / "index.html", site)

    assert {p.name for p in crawl.visited} == {"index.html", "a.html"}
    assert crawl.external == {"https://example.com/"}
    assert len(crawl.broken) == 3, crawl.broken
    assert any("missing.html (no such file)" in b for b in crawl.broken)
    assert any("outside the site folder" in b for b in crawl.broken)
    assert any("no id 'gone'" in b for b in crawl.broken)


def test_layout_check_catches_an_element_wider_than_the_phone(tmp_path: Path) -> None:
    """The overflow check itself: a 500 px box in a 375 px viewport."""
    page = _save(
        tmp_path,
        "wide.html",
        '<!DOCTYPE html><body style="margin:0"><p>fits</p>'
        '<div id="wide" class="box" style="width:500px">too wide</div></body>',
    )
    layouts = browser.measure_layouts(page, (PHONE, EMAIL_WIDTH))
    assert layouts[PHONE].overflows and layouts[PHONE].scroll_width == 500
    assert layouts[PHONE].culprits[0].id == "wide"
    assert not layouts[EMAIL_WIDTH].overflows
