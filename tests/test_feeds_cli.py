"""`digest feeds`: what a person sees of each feed's standing, and reviving a gone one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from digest.cli import main
from digest.config import Settings, load_settings
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


# -- the configured feeds: list, add, remove (the config file edited in place) --------

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "digest.toml"


def example_config(tmp_path: Path) -> Path:
    """The commented example `digest init` writes, with its paths under tmp_path."""
    config = tmp_path / "site" / "digest.toml"
    config.parent.mkdir()
    config.write_text(EXAMPLE.read_text("utf-8"), encoding="utf-8")
    return config


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def feeds_cli(config: Path, *args: str) -> int:
    return main(["--config", str(config), "feeds", *args])


def test_add_then_remove_gives_back_the_file_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = example_config(tmp_path)
    before = config.read_text("utf-8")
    url = "https://www.example-news.jp/ai/feed.xml"
    assert feeds_cli(config, "add", url, "--name", "日経AI", "--country", "jp",
                     "--language", "JA", "--filter", "ai") == 0  # fmt: skip
    assert capsys.readouterr().out == f"added: {url} (feeds[6] in {config})\n"
    added = config.read_text("utf-8")
    assert comments(added) == comments(before)  # every comment, in order
    block = f'[[feeds]]\nurl = "{url}"\nname = "日経AI"\ncountry = "JP"\nlanguage = "ja"\n'
    assert block + 'filter = "ai"\n\n# Extra names' in added  # after the last feed
    assert added.replace(block + 'filter = "ai"\n\n', "", 1) == before
    feed = load_settings(config).feeds[-1]
    assert (feed.url, feed.name, feed.country, feed.filter) == (url, "日経AI", "JP", "ai")
    assert not (config.parent / "var").exists()  # editing the file opens no database

    assert feeds_cli(config, "remove", url) == 0
    assert config.read_text("utf-8") == before


def test_removing_feeds_keeps_every_comment(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    before = config.read_text("utf-8")
    urls = [f.url for f in load_settings(config).feeds]
    # The first, a middle one and the last, which carries the comment block below it.
    for url in (urls[0], urls[3], urls[-1]):
        assert feeds_cli(config, "remove", url) == 0
        assert comments(config.read_text("utf-8")) == comments(before)
    assert [f.url for f in load_settings(config).feeds] == [urls[1], urls[2], urls[4]]
    for url in (urls[1], urls[2], urls[4]):
        assert feeds_cli(config, "remove", url) == 0
    after = config.read_text("utf-8")
    assert comments(after) == comments(before)
    assert "\n[[feeds]]\n" not in after and load_settings(config).feeds == ()
    # And the first feed added to a file without any goes in whole.
    assert feeds_cli(config, "add", urls[0], "--name", "TechCrunch AI") == 0
    assert [f.name for f in load_settings(config).feeds] == ["TechCrunch AI"]
    text = config.read_text("utf-8")
    assert comments(text) == comments(before)
    # Where it was: under the comments about feeds, above those about [aliases].
    assert "relying on them.\n[[feeds]]\nurl = " in text
    assert 'name = "TechCrunch AI"\n\n# Extra names' in text


def test_a_comment_at_the_top_of_a_file_of_feeds_survives(tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(
        "# my feeds\n"
        '[[feeds]]\nurl = "https://a.example-news.org/rss"  # the first\n\n'
        "# b: a Korean wire\n"
        '[[feeds]]\nurl = "https://b.example-news.org/rss"\ncountry = "KR"\n',
        encoding="utf-8",
    )
    assert feeds_cli(config, "remove", "https://a.example-news.org/rss") == 0
    assert config.read_text("utf-8") == (
        "# my feeds\n\n# b: a Korean wire\n"
        '[[feeds]]\nurl = "https://b.example-news.org/rss"\ncountry = "KR"\n'
    )


@pytest.mark.parametrize(
    ("args", "key", "said"),
    [
        (["--country", "XX"], "feeds[6].country", "is not an ISO 3166 country code"),
        (["--local"], "feeds[6].local", "needs a country"),
        (["--filter", "sport"], "feeds[6].filter", "is not a known filter"),
        (["--name", "a\u202ebidi"], "feeds[6].name", "bidirectional"),
        (["--site", "javascript:alert(1)"], "feeds[6].site", "is not an http(s) URL"),
    ],
)
def test_a_bad_value_writes_nothing_and_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], key: str, said: str
) -> None:
    config = example_config(tmp_path)
    before = config.read_bytes()
    assert feeds_cli(config, "add", "https://new.example-news.org/rss", *args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"digest: error: {config}: {key}: ") and said in err
    assert config.read_bytes() == before
    assert [p.name for p in config.parent.iterdir()] == ["digest.toml"]  # no temp file left


def test_a_bad_url_and_a_duplicate_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = example_config(tmp_path)
    before = config.read_bytes()
    assert feeds_cli(config, "add", "ftp://files.example-news.org/feed") == 2
    assert f"{config}: feeds[6].url: 'ftp://files.example-news.org/feed' is not" in (
        capsys.readouterr().err
    )
    assert feeds_cli(config, "add", "https://www.qbitai.com/feed") == 1
    err = capsys.readouterr().err
    assert err.startswith("digest: error: https://www.qbitai.com/feed is configured already")
    assert feeds_cli(config, "remove", "https://nowhere.example-news.org/") == 1
    assert "is not a configured feed" in capsys.readouterr().err
    assert config.read_bytes() == before


def test_the_file_keeps_its_permissions(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    config.chmod(0o600)
    assert feeds_cli(config, "add", "https://new.example-news.org/rss") == 0
    assert config.stat().st_mode & 0o777 == 0o600


def test_list_shows_each_feed_with_its_keys_and_standing(
    feed_server: FeedServer,
    write_config: Callable[..., tuple[Path, Settings]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed_server["/good.xml"] = Route(RSS, content_type="application/rss+xml")
    good = feed_server.url("/good.xml")
    config, _ = write_config(
        f'[[feeds]]\nurl = "{good}"\nname = "Good 좋은"\ncountry = "KR"\nlanguage = "ko"\n'
        'local = true\n[[feeds]]\nurl = "http://127.0.0.1:9/never.xml"\nfilter = "ai"\n'
    )
    main(["--config", str(config), "gather"])
    capsys.readouterr()
    assert feeds_cli(config, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f'ok      {good}  ["Good 좋은" KR ko local]: last fetched ')
    assert lines[1].startswith("failing http://127.0.0.1:9/never.xml  [filter=ai]: once: ")
    assert lines[2] == "2 feeds: 1 ok, 1 failing, 0 gone, 0 waiting, 0 new"
    # `digest feeds` alone prints the standing as it always did.
    assert feeds_cli(config) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(f"ok      {good}: last fetched ")
