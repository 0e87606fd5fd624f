"""The archive's pages as Chromium lays them out: index, an issue, trends, a country.

Builds an archive of six weekly issues of up to 80 stories (the issue of
benchmarks/email_render.py: CJK and English headlines, long unbroken CJK titles,
long URLs), with the subscribe form, and checks at 375 px (a phone) and 1280 px
(a desktop) that nothing sticks out sideways: the headline lists, the
previous/next links, the subscribe form and the SVG charts (which must shrink
to the phone's width). Screenshots go to var/screenshots/archive-*.png.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import browser
import pytest
from test_email_rendering import SCREENSHOTS, _check_no_overflow, bench

from digest.render.issue import render_issue
from digest.web.archive import write_issue

pytestmark = pytest.mark.browser

PHONE, DESKTOP = 375, 1280
WEEKS = (42, 43, 44, 45, 46, 47)


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    if shutil.which("chromium") is None:
        pytest.fail(browser.INSTALL_HINT, pytrace=False)
    return browser.find_chromium()


@pytest.fixture(scope="module", params=["ja", "en"])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    language = str(request.param)
    folder = tmp_path_factory.mktemp(f"archive-{language}")
    settings = bench.make_settings(language, folder)
    settings = replace(settings, web=replace(settings.web, url="https://digest.example.com/"))
    for n, week in enumerate(WEEKS, 1):
        # Issues of different sizes, so that the charts have something to show.
        issue = replace(bench.make_issue(language, 30 + 10 * n, week=f"2026-W{week}"), number=n)
        write_issue(issue, render_issue(issue, settings), settings)
    return folder


@pytest.mark.parametrize("name", ["index.html", "2026-W46.html", "trends.html", "country/jp.html"])
def test_archive_pages_fit_phone_and_desktop(site: Path, name: str) -> None:
    page = site / name
    layouts = browser.measure_layouts(page, (PHONE, DESKTOP))
    language = site.name.removeprefix("archive-")[:2]
    shot = f"archive-{language}-{Path(name).stem}"
    heights: dict[int, int | None] = {w: layout.scroll_height for w, layout in layouts.items()}
    for path in browser.screenshots(page, heights, SCREENSHOTS, shot):
        print(f"screenshot: {path}")
    _check_no_overflow(page, layouts)
    # The page column is the issue's: 600 px on a desktop, the whole phone.
    assert layouts[DESKTOP].styles[".container"]["width"] == "600px"
    assert layouts[PHONE].styles[".container"]["width"] == f"{PHONE}px"


def test_archive_links_resolve_from_the_index(site: Path) -> None:
    crawl = browser.crawl_site(site / "index.html", site)
    assert not crawl.broken, "broken internal links:\n" + "\n".join(crawl.broken)
    visited = {p.relative_to(site.resolve()).as_posix() for p in crawl.visited}
    assert {"trends.html", "country/jp.html"} | {f"2026-W{w}.html" for w in WEEKS} <= visited
