"""`digest feeds`: what a person sees of each feed's standing, and reviving a gone one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from digest.cli import main
from digest.config import Settings
from digest.loopback.feedserver import FeedServer, Route

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>
<item><title>One</title><link>https://example.com/1</link><guid>1</guid></item>
</channel></rss>"""


def test_feeds_shows_gone_failing_ok_and_new_then_revives(
    feed_server: FeedServer,
    write_config: Callable[..., tuple[Path, Settings]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed_server["/good.xml"] = Route(RSS, content_type="application/rss+xml")
    feed_server["/gone.xml"] = Route(b"gone", status=410, content_type="text/plain")
    feed_server["/broken.xml"] = Route(b"nope", status=404, content_type="text/plain")
    urls = {name: feed_server.url(f"/{name}.xml") for name in ("good", "gone", "broken")}
    feeds = "".join(f'[[feeds]]\nurl = "{u}"\n' for u in urls.values())
    feeds += '[[feeds]]\nurl = "http://127.0.0.1:9/never.xml"\n'
    config, _ = write_config(feeds)
    main(["--config", str(config), "gather"])
    capsys.readouterr()

    assert main(["--config", str(config), "feeds"]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_url = {line.split()[1].rstrip(":"): line.split()[0] for line in lines[:-1]}
    assert by_url[urls["good"]] == "ok"
    assert by_url[urls["gone"]] == "gone"
    assert by_url[urls["broken"]] == "failing"
    assert lines[-1] == "4 feeds: 1 ok, 2 failing, 1 gone, 0 waiting, 0 new"

    # A gone feed is not asked again by the next gather ...
    requests = len(feed_server.requests)
    main(["--config", str(config), "gather"])
    capsys.readouterr()
    assert not any(path == "/gone.xml" for _, path, _ in feed_server.requests[requests:])
    # ... until an operator revives it.
    assert main(["--config", str(config), "feeds", "--revive", urls["gone"]]) == 0
    assert f"revived: {urls['gone']}" in capsys.readouterr().out
    assert main(["--config", str(config), "feeds", "--revive", urls["good"]]) == 1
    assert "is not gone" in capsys.readouterr().err
    assert main(["--config", str(config), "feeds", "--revive", "http://x.example/"]) == 1
    assert "is not a configured feed" in capsys.readouterr().err
