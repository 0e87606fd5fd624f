"""The whole reader flow in a real browser: Debian's Chromium, driven by selenium
through chromedriver, against a real `digest serve` (waitress on 127.0.0.1), with
the mails caught by a real aiosmtpd sink.

subscribe → confirmation mail → confirm → welcome mail → preferences → unsubscribe,
at 1280 px and at a 375 px phone, in English and in Japanese; on every page
nothing overflows horizontally, every control is on screen, and a screenshot is
kept (in $DIGEST_SCREENSHOTS when set, else the test's tmp folder) for a person
to look at. No JavaScript of ours runs: the pages have none.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import browser
import pytest
from servethread import ServerThread

from digest.config import Settings
from digest.credentials import load_secrets
from digest.loopback.mailsink import SmtpSink
from digest.state.store import Store
from digest.web.server import make_server

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.network, pytest.mark.usefixtures("secret")]

# tests/browser.py's flags (no background network, no first-run chatter), in
# Chromium's new headless mode, which chromedriver drives; no file access needed.
FLAGS = tuple(
    "--headless=new" if flag == "--headless" else flag
    for flag in browser.FLAGS
    if not flag.startswith(("--allow-file-access", "--lang"))
)


def _driver(width: int, lang: str, profile: Path) -> webdriver.Chrome:
    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        pytest.fail(
            "Chromium and chromedriver are needed (apt-get install chromium chromium-driver); "
            "`make test` installs them through `make browser-deps`"
        )
    options = Options()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--lang={lang}")
    if width < 500:  # headless windows are never narrower than 500 px: emulate a phone
        options.add_experimental_option(
            "mobileEmulation",
            {"deviceMetrics": {"width": width, "height": 812, "pixelRatio": 2.0}},
        )
    else:
        options.add_argument(f"--window-size={width},900")
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(30)
    return driver


def _config(sink: SmtpSink, language: str) -> str:
    title = "アジアAIハブ週報" if language == "ja" else "Asia AI Hubs Weekly"
    return (
        f'[digest]\ntitle = "{title}"\nlanguage = "{language}"\n'
        'countries = ["KR", "JP", "CN", "HK", "TW", "SG", "IN", "AE"]\n'
        'contact = "editor@example.com"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
        'from = "Digest <digest@example.com>"\n'
        '[web]\nip_limit = "100/minute"\n'
    )


def _link(sink: SmtpSink, email: str, page: str, base: str) -> str:
    for received in reversed(sink.received):
        if email in received.rcpt_tos:
            body = received.message().get_body(("plain",))
            assert body is not None
            found = re.findall(
                r"https://digest\.example\.com/(" + page + r"\?token=[^\s>)\]]+)",
                body.get_content(),
            )
            if found:
                return f"{base}/{found[-1]}"
    raise AssertionError(f"no {page} link mailed to {email}")


class Pages:
    """Checks and screenshots each page the flow reaches."""

    def __init__(self, driver: webdriver.Chrome, folder: Path, prefix: str) -> None:
        self.driver, self.folder, self.prefix = driver, folder, prefix
        self.shots: list[Path] = []

    def check(self, name: str) -> None:
        d = self.driver
        width = d.execute_script("return window.innerWidth")
        scroll = d.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= width, f"{name}: the page is {scroll} px wide in a {width} px viewport"
        for element in d.find_elements(By.CSS_SELECTOR, "button, input[type=email], label.choice"):
            box = element.rect
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (
                f"{name}: {element.tag_name} {element.text!r} sticks out: {box} (viewport {width})"
            )
        # The whole page, not only the first screen.
        shot = d.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
        path = self.folder / f"{self.prefix}-{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        self.shots.append(path)


def _left_the_page(element: WebElement) -> Callable[[webdriver.Chrome], bool]:
    """Whether `element`'s document has been replaced. Caught mid-navigation,
    chromedriver may answer "Node with given id does not belong to the document"
    (an unknown error) instead of a stale reference: that is the same answer."""

    def gone(_: webdriver.Chrome) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return True
            raise
        return False

    return gone


def _click_and_wait(driver: webdriver.Chrome, css: str) -> None:
    """Click a submit button and wait for the page it posts to (a new document)."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, css).click()
    WebDriverWait(driver, 15).until(_left_the_page(old))
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


@pytest.fixture
def site(
    write_config: Callable[..., tuple[Path, Settings]], smtp_sink: SmtpSink
) -> Iterator[Callable[[str], tuple[str, Settings]]]:
    servers: list[ServerThread] = []

    def start(language: str) -> tuple[str, Settings]:
        _, settings = write_config(_config(smtp_sink, language), name=f"digest-{language}.toml")
        server = make_server(settings, load_secrets(None), host="127.0.0.1", port=0)
        servers.append(ServerThread(server).start())
        return f"http://127.0.0.1:{server.effective_port}", settings

    yield start
    for running in servers:
        running.stop()


@pytest.mark.parametrize(
    ("width", "language"), [(1280, "en"), (375, "en"), (1280, "ja"), (375, "ja")]
)
def test_the_whole_reader_flow_in_chromium(
    site: Callable[[str], tuple[str, Settings]],
    smtp_sink: SmtpSink,
    tmp_path: Path,
    width: int,
    language: str,
) -> None:
    base, settings = site(language)
    folder = Path(os.environ.get("DIGEST_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    email = f"reader-{language}-{width}@example.org"
    driver = _driver(width, "ja-JP" if language == "ja" else "en-US", tmp_path / "profile")
    pages = Pages(driver, folder, f"{language}-{width}")
    try:
        # 1. The form: untick China, choose English mail, submit.
        driver.get(f"{base}/subscribe")
        pages.check("1-subscribe")
        driver.find_element(By.ID, "email").send_keys(email)
        driver.find_element(By.CSS_SELECTOR, 'input[name=countries][value="CN"]').click()
        driver.find_element(By.CSS_SELECTOR, 'input[name=language][value="en"]').click()
        _click_and_wait(driver, "form button[type=submit]")
        assert email in driver.find_element(By.TAG_NAME, "main").text
        pages.check("2-check-inbox")
        with Store(settings.storage_path) as store:
            pending = store.subscriber_by_email(email)
            assert pending is not None and pending.status == "pending"
            assert "CN" not in pending.countries and "KR" in pending.countries
        # 2. The confirmation mail's link: a page with a button; the button confirms.
        driver.get(_link(smtp_sink, email, "confirm", base))
        pages.check("3-confirm")
        _click_and_wait(driver, "form button")
        pages.check("4-confirmed")
        with Store(settings.storage_path) as store:
            assert store.subscriber_by_email(email).status == "active"  # type: ignore[union-attr]
        # 3. Preferences from the welcome mail: add China back, save.
        driver.get(_link(smtp_sink, email, "preferences", base))
        pages.check("5-preferences")
        driver.find_element(By.CSS_SELECTOR, 'input[name=countries][value="CN"]').click()
        _click_and_wait(driver, "button[value=save]")
        pages.check("6-saved")
        with Store(settings.storage_path) as store:
            saved = store.subscriber_by_email(email)
            assert saved is not None and saved.countries == ()  # every section again
        # 4. Leave from the preferences page.
        _click_and_wait(driver, "button[value=leave]")
        pages.check("7-unsubscribed")
        with Store(settings.storage_path) as store:
            assert store.subscriber_by_email(email).status == "unsubscribed"  # type: ignore[union-attr]
    finally:
        driver.quit()
    assert len(pages.shots) == 7 and all(p.stat().st_size > 1000 for p in pages.shots)
