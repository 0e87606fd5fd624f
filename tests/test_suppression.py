"""The suppression list, through the CLI as an operator uses it: an address that
unsubscribed, complained or bounced for good is never made active again by
`subscribers add` or `import`; `--resubscribe` does, and says so; `forget` erases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.cli import main
from digest.state.store import Store

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(f'[storage]\npath = "{tmp_path.as_posix()}/db.sqlite3"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("status", ["unsubscribed", "complained", "bouncing"])
def test_add_and_import_leave_a_suppressed_address_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: str
) -> None:
    conf = _config(tmp_path)
    with Store(tmp_path / "db.sqlite3") as store:
        s, _ = store.add_subscriber("out@example.com", "", NOW)
        store.set_subscriber_status(s.id, status, NOW)
    assert main(["--config", str(conf), "subscribers", "add", "out@example.com"]) == 1
    err = capsys.readouterr().err
    assert f"out@example.com is suppressed ({status})" in err and "--resubscribe" in err
    data = tmp_path / "list.csv"
    data.write_text("email\nout@example.com\nnew@example.com\n", encoding="utf-8")
    assert main(["--config", str(conf), "subscribers", "import", str(data)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("imported: 1 added, 0 already subscribed, 0 refused; 1 left suppressed")
    with Store(tmp_path / "db.sqlite3") as store:
        assert store.subscriber_by_email("out@example.com").status == status  # type: ignore[union-attr]
    # The operator says the reader asked to be back: --resubscribe, and the line says so.
    assert main(["--config", str(conf), "subscribers", "add", "out@example.com",
                 "--resubscribe"]) == 0  # fmt: skip
    assert capsys.readouterr().out == "resubscribed: out@example.com\n"
    with Store(tmp_path / "db.sqlite3") as store:
        assert store.subscriber_by_email("out@example.com").status == "active"  # type: ignore[union-attr]


def test_forget_erases_and_an_old_list_cannot_bring_the_address_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = _config(tmp_path)
    assert main(["--config", str(conf), "subscribers", "add", "me@example.com",
                 "--name", "Me"]) == 0  # fmt: skip
    assert main(["--config", str(conf), "subscribers", "forget", "ME@example.com"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "forgotten: ME@example.com"
    main(["--config", str(conf), "subscribers", "list", "--all"])
    assert capsys.readouterr().out == ""
    data = tmp_path / "old.csv"
    data.write_text("me@example.com,Me\n", encoding="utf-8")
    assert main(["--config", str(conf), "subscribers", "import", str(data)]) == 0
    assert "0 added" in capsys.readouterr().out
    main(["--config", str(conf), "subscribers", "list", "--all"])
    assert capsys.readouterr().out == ""
