"""`digest serve` over real HTTP (waitress on 127.0.0.1), with a real SQLite file and
the confirmation and welcome mails delivered to a real aiosmtpd sink.

The flow a reader goes through, and the abuse cases a public form meets: forged,
truncated, expired, replayed and other readers' tokens, a token of another
purpose, a 1 MB body, a missing CSRF token, a hundred signups from one address,
the honeypot, and whether the answer tells who is subscribed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from servethread import ServerThread

from digest.config import Settings
from digest.credentials import load_secrets
from digest.loopback.mailsink import SmtpSink
from digest.state.store import Store
from digest.web.server import make_server

pytestmark = pytest.mark.usefixtures("secret")

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    base: str
    settings: Settings
    sink: SmtpSink
    clock: Clock
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base, timeout=10, follow_redirects=False)

    def store(self) -> Store:
        return Store(self.settings.storage_path)

    def csrf(self, path: str, client: httpx.Client | None = None) -> str:
        page = (client or self.client).get(path)
        assert page.status_code == 200, page.text
        match = CSRF.search(page.text)
        assert match, page.text
        return match.group(1)

    def subscribe(
        self, email: str, countries: tuple[str, ...] = ("KR", "JP"), **extra: str
    ) -> httpx.Response:
        token = self.csrf("/subscribe")
        data: dict[str, object] = {
            "csrf_token": token,
            "email": email,
            "language": "en",
            "countries": list(countries),
            **extra,
        }
        return self.client.post("/subscribe", data=data)

    def mails_to(self, email: str) -> list[str]:
        """The text of every message the sink got for `email`, oldest first."""
        out = []
        for received in self.sink.received:
            if email in received.rcpt_tos:
                message = received.message()
                part = message.get_body(("plain",))
                assert part is not None
                out.append(part.get_content())
        return out

    def link(self, email: str, page: str) -> str:
        """The newest link to `page` mailed to `email`, as a path of this site."""
        for text in reversed(self.mails_to(email)):
            found = re.findall(
                r"https://digest\.example\.com/(" + page + r"\?token=[^\s>)\]]+)", text
            )
            if found:
                return "/" + found[-1]
        raise AssertionError(f"no {page} link mailed to {email}")


def _config(sink: SmtpSink, extra: str = "") -> str:
    return (
        '[digest]\nlanguage = "en"\ncountries = ["KR", "JP", "CN"]\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
        'from = "Digest <digest@example.com>"\n' + extra
    )


@pytest.fixture
def make_site(
    write_config: Callable[..., tuple[Path, Settings]], smtp_sink: SmtpSink
) -> Iterator[Callable[..., Site]]:
    servers: list[ServerThread] = []
    sites: list[Site] = []

    def start(extra: str = "", base_path: str | None = None) -> Site:
        _, settings = write_config(_config(smtp_sink, extra))
        clock = Clock()
        server = make_server(
            settings, load_secrets(None), host="127.0.0.1", port=0, base_path=base_path, clock=clock
        )
        servers.append(ServerThread(server).start())
        prefix = base_path or ""
        site = Site(f"http://127.0.0.1:{server.effective_port}{prefix}", settings, smtp_sink, clock)
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.client.close()
    for running in servers:
        running.stop()


def test_a_reader_subscribes_confirms_chooses_and_leaves(make_site: Callable[..., Site]) -> None:
    site = make_site()
    answer = site.subscribe("reader@example.org")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    with site.store() as store:
        pending = store.subscriber_by_email("reader@example.org")
        assert pending is not None and pending.status == "pending"  # nothing before confirming
        assert pending.countries == ("JP", "KR") and pending.language == "en"
    confirm = site.link("reader@example.org", "confirm")
    # A GET (a link scanner, a preview) shows a button and changes nothing.
    shown = site.client.get(confirm)
    assert shown.status_code == 200 and "Confirm subscription" in shown.text
    with site.store() as store:
        assert store.subscriber_by_email("reader@example.org").status == "pending"  # type: ignore[union-attr]
    token = CSRF.search(shown.text).group(1)  # type: ignore[union-attr]
    done = site.client.post(confirm, data={"csrf_token": token})
    assert done.status_code == 200 and "re subscribed" in done.text
    with site.store() as store:
        reader = store.subscriber_by_email("reader@example.org")
        assert reader is not None and reader.status == "active" and reader.confirmed
    # The welcome mail carries the preferences link.
    preferences = site.link("reader@example.org", "preferences")
    form = site.client.get(preferences)
    assert form.status_code == 200 and 'value="KR" checked' in form.text
    assert 'value="CN" checked' not in form.text
    saved = site.client.post(
        preferences,
        data={
            "csrf_token": CSRF.search(form.text).group(1),
            "language": "ja",  # type: ignore[union-attr]
            "countries": ["CN", "GLOBAL"],
            "do": "save",
        },
    )
    assert saved.status_code == 200 and "Saved" in saved.text
    with site.store() as store:
        reader = store.subscriber_by_email("reader@example.org")
        assert (
            reader is not None and reader.countries == ("CN", "GLOBAL") and reader.language == "ja"
        )
    # RFC 8058 one-click, as a mail provider sends it: no cookie, no CSRF token.
    unsubscribe = site.link("reader@example.org", "unsubscribe")
    for _ in range(2):  # idempotent
        left = httpx.post(
            site.base + unsubscribe,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert left.status_code == 200 and "Unsubscribed" in left.text
    with site.store() as store:
        assert store.subscriber_by_email("reader@example.org").status == "unsubscribed"  # type: ignore[union-attr]


def test_a_get_of_the_unsubscribe_link_only_asks(make_site: Callable[..., Site]) -> None:
    site = make_site()
    with site.store() as store:
        store.add_subscriber("kept@example.org", "", START)
    site.subscribe("kept@example.org")  # active: a reminder with the links
    unsubscribe = site.link("kept@example.org", "unsubscribe")
    page = site.client.get(unsubscribe)
    assert page.status_code == 200 and "Stop sending" in page.text
    with site.store() as store:
        assert store.subscriber_by_email("kept@example.org").status == "active"  # type: ignore[union-attr]


def _tamper(site: Site, path: str, how: str, other: str = "") -> str:
    page, _, token = path.partition("?token=")
    if how == "forged":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif how == "truncated":
        token = token[: len(token) // 2]
    elif how == "other":  # another reader's id with this reader's signature
        _, _, rest = token.partition(".")
        token = other + "." + rest
    return f"{page}?token={token}"


@pytest.mark.parametrize("how", ["forged", "truncated", "other"])
def test_tampered_confirmation_links_do_nothing(make_site: Callable[..., Site], how: str) -> None:
    site = make_site()
    site.subscribe("one@example.org")
    site.subscribe("two@example.org")
    with site.store() as store:
        two = store.subscriber_by_email("two@example.org")
    assert two is not None
    bad = _tamper(site, site.link("one@example.org", "confirm"), how, str(two.id))
    assert site.client.get(bad).status_code == 400
    token = site.csrf("/subscribe")
    assert site.client.post(bad, data={"csrf_token": token}).status_code == 400
    with site.store() as store:
        assert {s.status for s in store.subscribers()} == {"pending"}


def test_confirmation_links_expire_and_work_once(make_site: Callable[..., Site]) -> None:
    site = make_site('[web]\nconfirm_within = "1h"\n')
    site.subscribe("late@example.org")
    link = site.link("late@example.org", "confirm")
    site.clock.now = START + timedelta(hours=2)
    expired = site.client.get(link)
    assert expired.status_code == 410 and "expired" in expired.text
    # A new request gives a new link; the old one is dead even within its hour.
    site.clock.now = START
    site.subscribe("late@example.org")
    fresh = site.link("late@example.org", "confirm")
    assert fresh != link and site.client.get(link).status_code == 400
    token = site.csrf(fresh)
    assert site.client.post(fresh, data={"csrf_token": token}).status_code == 200
    replayed = site.client.post(fresh, data={"csrf_token": token})
    assert replayed.status_code == 400  # used up


def test_a_token_works_only_for_its_purpose(make_site: Callable[..., Site]) -> None:
    site = make_site()
    with site.store() as store:
        store.add_subscriber("p@example.org", "", START)
    site.subscribe("p@example.org")
    unsubscribe = site.link("p@example.org", "unsubscribe")
    preferences = site.link("p@example.org", "preferences")
    token_u = unsubscribe.partition("?token=")[2]
    token_p = preferences.partition("?token=")[2]
    assert site.client.get(f"/preferences?token={token_u}").status_code == 400
    assert (
        httpx.post(
            site.base + f"/unsubscribe?token={token_p}", content=b"List-Unsubscribe=One-Click"
        ).status_code
        == 400
    )
    assert site.client.get(f"/confirm?token={token_p}").status_code == 400
    with site.store() as store:
        assert store.subscriber_by_email("p@example.org").status == "active"  # type: ignore[union-attr]


def test_forms_without_a_csrf_token_are_refused(make_site: Callable[..., Site]) -> None:
    site = make_site()
    with site.store() as store:
        store.add_subscriber("c@example.org", "", START)
    site.subscribe("c@example.org")
    preferences = site.link("c@example.org", "preferences")
    with httpx.Client(base_url=site.base) as fresh:
        refused = fresh.post(preferences, data={"countries": ["CN"], "do": "leave"})
        assert refused.status_code == 400
        # A form embedded in another site: shown again, filled in, with a token; no mail.
        before = len(site.sink.received)
        embedded = fresh.post(
            "/subscribe", data={"email": "embed@example.org", "countries": ["KR"]}
        )
    assert embedded.status_code == 400 and 'value="embed@example.org"' in embedded.text
    assert CSRF.search(embedded.text) and len(site.sink.received) == before
    with site.store() as store:
        assert store.subscriber_by_email("c@example.org").status == "active"  # type: ignore[union-attr]
        assert store.subscriber_by_email("embed@example.org") is None


def test_a_huge_body_is_refused_unread(make_site: Callable[..., Site]) -> None:
    site = make_site()
    answer = site.client.post(
        "/subscribe",
        content=b"email=" + b"a" * 1_000_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413


def test_signups_from_one_client_are_limited(make_site: Callable[..., Site]) -> None:
    site = make_site()
    codes = []
    token = site.csrf("/subscribe")
    for n in range(100):
        answer = site.client.post(
            "/subscribe",
            data={"csrf_token": token, "email": f"bot{n}@example.org", "countries": ["KR"]},
        )
        codes.append(answer.status_code)
    assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}
    assert len(site.sink.received) == 5


def test_one_address_gets_a_bounded_number_of_mails(make_site: Callable[..., Site]) -> None:
    site = make_site('[web]\naddress_limit = "2/day"\nip_limit = "100/minute"\n')
    answers = [site.subscribe("target@example.org") for _ in range(5)]
    assert {a.status_code for a in answers} == {200}
    assert len({a.text.replace(a.text, "same") for a in answers}) == 1
    assert len(site.mails_to("target@example.org")) == 2


def test_the_honeypot_sends_nothing(make_site: Callable[..., Site]) -> None:
    site = make_site()
    answer = site.subscribe("bot@example.org", website="http://spam.example")
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    assert site.sink.received == []
    with site.store() as store:
        assert store.subscriber_by_email("bot@example.org") is None


def test_the_answer_does_not_tell_who_is_subscribed(make_site: Callable[..., Site]) -> None:
    site = make_site('[web]\nip_limit = "100/minute"\n')
    with site.store() as store:
        store.add_subscriber("active@example.org", "", START)
        left, _ = store.add_subscriber("left@example.org", "", START)
        store.unsubscribe(left.id, START)
    pages = {}
    for email in ("active@example.org", "left@example.org", "new@example.org"):
        answer = site.subscribe(email)
        pages[email] = (answer.status_code, answer.text.replace(email, "ADDRESS"))
    assert len(set(pages.values())) == 1
    with site.store() as store:  # and nobody's status changed without a confirmation
        assert store.subscriber_by_email("left@example.org").status == "unsubscribed"  # type: ignore[union-attr]


def test_bad_input_gets_the_form_again(make_site: Callable[..., Site]) -> None:
    site = make_site()
    for email, countries in (("not an address", ("KR",)), ("a@example.org", ())):
        answer = site.subscribe(email, countries=countries)
        assert answer.status_code == 400 and 'role="alert"' in answer.text
    assert site.sink.received == []


def test_behind_a_proxy_under_a_base_path(make_site: Callable[..., Site]) -> None:
    site = make_site(
        '[web]\ntrusted_proxies = ["127.0.0.1"]\nip_limit = "2/minute"\n', base_path="/digest"
    )
    form = site.client.get("/subscribe")
    assert form.status_code == 200 and 'action="/digest/subscribe"' in form.text
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    # Each forwarded client has its own limit; the proxy's own address does not count.
    for client in ("203.0.113.1", "203.0.113.2"):
        for n in range(2):
            ok = site.client.post(
                "/subscribe",
                headers={"X-Forwarded-For": client},
                data={
                    "csrf_token": token,
                    "email": f"{n}{client}@example.org",
                    "countries": ["KR"],
                },
            )
            assert ok.status_code == 200
    over = site.client.post(
        "/subscribe",
        headers={"X-Forwarded-For": "203.0.113.1"},
        data={"csrf_token": token, "email": "x@example.org", "countries": ["KR"]},
    )
    assert over.status_code == 429


def test_the_archive_is_served_and_nothing_outside_it(make_site: Callable[..., Site]) -> None:
    site = make_site()
    archive = site.settings.archive.dir
    archive.mkdir(parents=True, exist_ok=True)
    (archive / "index.html").write_text("<p>the index</p>", encoding="utf-8")
    (archive / "2026-W48.html").write_text("<p>an issue</p>", encoding="utf-8")
    assert "the index" in site.client.get("/").text
    assert site.client.get("/2026-W48.html").status_code == 200
    for path in ("/../db.sqlite3", "/%2e%2e/db.sqlite3", "/..%2fdb.sqlite3"):
        assert site.client.get(path).status_code == 404
    headers = site.client.get("/subscribe").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"


def test_a_port_in_use_is_one_line_with_a_hint(
    write_config: Callable[..., tuple[Path, Settings]], smtp_sink: SmtpSink
) -> None:
    # As a user meets it: the command, in a process of its own (waitress leaves
    # its half-made server to the garbage collector when the bind fails, and the
    # process exits right after).
    import socket
    import subprocess
    import sys

    config, _ = write_config(_config(smtp_sink))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "digest", "--config", str(config), "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "DIGEST_SECRET": "x" * 40},
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr.endswith(
        f"digest: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
        "  hint: another program listens there: choose another port with --port\n"
    ), done.stderr
