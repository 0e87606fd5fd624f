"""Faults of the machine, each one line for the user and nothing lost.

Real faults, no mocks: another process holding the database's write lock, a
full file system (a 64 KiB tmpfs mounted in a private user and mount
namespace, `unshare -Urm`: nothing outside the test's process sees it; skipped
where the kernel forbids unprivileged namespaces), the file-size limit
(RLIMIT_FSIZE with SIGXFSZ ignored: EFBIG, always available), a broken user
template, and the temporary files a killed writer leaves behind.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.cli import main
from digest.loopback.feedserver import FeedServer
from digest.models import Post
from digest.state import store as store_module
from digest.state.files import STALE_TEMP_SECONDS, remove_stale_temp_files, write_atomic
from digest.state.store import Store

ROOT = Path(__file__).resolve().parents[1]


def config(folder: Path, extra: str = "") -> Path:
    path = folder / "digest.toml"
    path.write_text(
        f'[storage]\npath = "{folder.as_posix()}/db.sqlite3"\n'
        f'[archive]\ndir = "{folder.as_posix()}/archive"\n' + extra,
        encoding="utf-8",
    )
    return path


def test_a_locked_database_is_one_line_with_the_holders_pid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = config(tmp_path)
    assert main(["--config", str(conf), "subscribers", "add", "first@example.com"]) == 0
    db = tmp_path / "db.sqlite3"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         f"db = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
         "db.execute('BEGIN IMMEDIATE')\n"
         "db.execute(\"UPDATE subscribers SET name = 'held'\")\n"
         "print('holding', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        monkeypatch.setattr(store_module, "BUSY_TIMEOUT", 0.5)
        capsys.readouterr()
        code = main(["--config", str(conf), "subscribers", "add", "second@example.com"])
        err = capsys.readouterr().err.splitlines()
        assert code == 75
        assert re.fullmatch(
            rf"digest: error: {re.escape(str(db))}: the database is locked by another process "
            rf"\(pid {holder.pid}\); gave up after 0\.\d s",
            err[0],
        ), err
        assert err[1].startswith("  hint: wait for it to finish")
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    # Nothing half-done: the holder's change died with it, ours was never made.
    assert main(["--config", str(conf), "subscribers", "list"]) == 0
    assert capsys.readouterr().out == "first@example.com\n"


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
    )
    return probe.returncode == 0


def digest_in_small_fs(
    folder: Path, args: list[str], size: str = "64k"
) -> subprocess.CompletedProcess[str]:
    """Run digest in a private mount namespace in which `folder/full` is a tmpfs of `size`."""
    full = folder / "full"
    full.mkdir(exist_ok=True)
    command = " ".join(["exec", sys.executable, "-m", "digest", *(f"'{a}'" for a in args)])
    return subprocess.run(
        ["unshare", "-Urm", "sh", "-c", f"mount -t tmpfs -o size={size} tmpfs '{full}' && {command}"],  # noqa: E501
        capture_output=True, text=True, cwd=folder, timeout=120,
    )  # fmt: skip


def subscribers_csv(n: int) -> str:
    return "email,name\n" + "".join(f"r{i}@example.com,Reader {'x' * 50} {i}\n" for i in range(n))


@pytest.mark.skipif(not _unshare_works(), reason="no unprivileged user+mount namespaces here")
def test_a_full_disk_under_the_database_is_one_line_and_loses_nothing(tmp_path: Path) -> None:
    conf = tmp_path / "digest.toml"
    conf.write_text(f'[storage]\npath = "{tmp_path}/full/db.sqlite3"\n', encoding="utf-8")
    data = tmp_path / "in.csv"
    data.write_text(subscribers_csv(3000), encoding="utf-8")
    run = digest_in_small_fs(tmp_path, ["--config", str(conf), "subscribers", "import", str(data)])
    db = tmp_path / "full" / "db.sqlite3"
    assert run.returncode == 74, run.stderr
    assert run.stderr.splitlines()[0] == (
        f"digest: error: {db}: cannot write the database: the disk is full"
    )
    assert "Traceback" not in run.stderr


@pytest.mark.skipif(not _unshare_works(), reason="no unprivileged user+mount namespaces here")
def test_a_full_disk_while_archiving_is_one_line_and_keeps_the_old_file(tmp_path: Path) -> None:
    conf = config(tmp_path)
    data = tmp_path / "in.csv"
    data.write_text(subscribers_csv(2000), encoding="utf-8")
    assert main(["--config", str(conf), "subscribers", "import", str(data)]) == 0
    out = tmp_path / "full" / "subscribers.csv"
    run = digest_in_small_fs(tmp_path, ["--config", str(conf), "subscribers", "export", str(out)])
    assert run.returncode == 74, run.stderr
    assert run.stderr.splitlines()[0] == (
        f"digest: error: {out}: cannot write: no space left on the device"
    )
    assert run.stderr.splitlines()[1].startswith("  hint: free some space")


def _limit_file_size() -> None:
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
    # Above the database's 32 KiB WAL index, below the export's ~80 KB.
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_the_file_size_limit_is_one_line_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    conf = config(tmp_path)
    data = tmp_path / "in.csv"
    data.write_text(subscribers_csv(1000), encoding="utf-8")
    assert main(["--config", str(conf), "subscribers", "import", str(data)]) == 0
    out = tmp_path / "export" / "subscribers.csv"
    out.parent.mkdir()
    out.write_text("old\n")
    run = subprocess.run(
        [sys.executable, "-m", "digest", "--config", str(conf), "subscribers", "export", str(out)],
        capture_output=True, text=True, preexec_fn=_limit_file_size, timeout=120,
    )  # fmt: skip
    assert run.returncode == 74, run.stderr
    assert run.stderr.splitlines()[0] == (
        f"digest: error: {out}: cannot write: file too large (the file size limit, "
        "ulimit -f, was reached)"
    )
    assert out.read_text() == "old\n"  # the old content, whole
    assert sorted(p.name for p in out.parent.iterdir()) == ["subscribers.csv"]


def test_a_broken_user_template_is_one_line_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "issue_web.html.j2").write_text("<p>\n{% if v.title %}\n<b>unclosed\n", "utf-8")
    conf = config(tmp_path, f'[templates]\ndir = "{mine.as_posix()}"\n')
    # A week with a story: an empty week is refused before any template is read.
    when = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)
    with Store(tmp_path / "db.sqlite3") as store:
        store.add_posts(
            [Post("https://feeds.example.com/a.xml", "p1", "https://news.example.com/1",
                  "Samsung opens an AI lab in Seoul", "A new lab.", when, when)]
        )  # fmt: skip
    code = main(["--config", str(conf), "build", "--week", "2026-W47"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err[0].startswith(f"digest: error: {mine / 'issue_web.html.j2'}:3: syntax error: ")
    assert err[1].startswith("  hint: fix that template")
    (mine / "issue_web.html.j2").write_text("<p>{{ v.no_such_thing }}</p>\n", "utf-8")
    code = main(["--config", str(conf), "build", "--week", "2026-W47"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2
    assert err[0] == (
        f"digest: error: {mine / 'issue_web.html.j2'}:1: undefined: "
        "'digest.render.view.IssueView object' has no attribute 'no_such_thing'"
    )


def test_stale_temporary_files_are_swept_and_fresh_ones_kept(tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    stale = folder / ".2026-W47.html.ab12cd34.tmp"
    fresh = folder / ".index.html.zz99yy88.tmp"
    other = folder / ".hidden.tmp"  # not one of ours: the name does not fit
    for path in (stale, fresh, other):
        path.write_text("torn")
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    write_atomic(folder / "index.html", "<p>new</p>")
    assert sorted(p.name for p in folder.iterdir()) == [
        ".hidden.tmp", ".index.html.zz99yy88.tmp", "index.html"
    ]  # fmt: skip
    assert remove_stale_temp_files(folder) == 0


def test_a_killed_archive_write_is_cleaned_up_by_the_next_run(tmp_path: Path) -> None:
    """SIGKILL in the middle of writing: the old file stays whole, the torn
    temporary file is removed by the next writer into that folder."""
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "feed.xml").write_text("old")
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, tempfile, os, time\n"
         "from pathlib import Path\n"
         "import digest.state.files as f\n"
         "real = os.fsync\n"
         "def slow(fd):\n"
         "    print('writing', flush=True); time.sleep(60)\n"
         "os.fsync = slow\n"
         f"f.write_atomic(Path({str(folder / 'feed.xml')!r}), 'x' * 100000)\n"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    writer.stdout.close()
    torn = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert len(torn) == 1 and (folder / "feed.xml").read_text() == "old"
    old = time.time() - STALE_TEMP_SECONDS - 1
    os.utime(torn[0], (old, old))  # the next run comes minutes later
    assert remove_stale_temp_files(folder) == 1
    assert sorted(p.name for p in folder.iterdir()) == ["feed.xml"]


def test_sigkill_during_build_never_leaves_a_torn_page(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """`digest build` killed at moments spread over its whole run (select, render,
    inline, archive write), 10 times: every archive file is always whole, and the
    next build writes the same issue a clean build writes."""
    import json
    import random
    import xml.dom.minidom

    from digest.loopback.demo import DEMO_WEEK, SAMPLE_FEEDS

    urls = feed_server.serve_directory(SAMPLE_FEEDS)
    feeds = "".join(f'[[feeds]]\nurl = "{u}"\n' for u in urls)
    conf = config(tmp_path, feeds + '[gather]\nallow_private = ["127.0.0.0/8"]\n')
    assert main(["--config", str(conf), "gather"]) == 0
    build = [sys.executable, "-m", "digest", "--config", str(conf), "build", "--week", DEMO_WEEK]
    started = time.perf_counter()
    subprocess.run(build, cwd=tmp_path, check=True, capture_output=True)
    whole = time.perf_counter() - started
    archive = tmp_path / "archive"
    clean = (archive / f"{DEMO_WEEK}.html").read_bytes()

    def check_every_file_is_whole() -> None:
        for path in archive.rglob("*"):
            if path.is_dir() or path.name.endswith(".tmp"):
                continue
            data = path.read_bytes()
            if path.suffix == ".json":
                json.loads(data)
            elif path.suffix == ".jsonl":  # an issue's record: JSON lines
                assert data.endswith(b"\n"), path
                for line in data.splitlines():
                    json.loads(line)
            elif path.suffix == ".xml":
                xml.dom.minidom.parseString(data)
            else:
                assert data.rstrip().endswith(b"</html>"), path

    chance = random.Random(5)
    for _ in range(10):
        process = subprocess.Popen(
            build, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(chance.uniform(0.2, 1.0) * whole)
        process.send_signal(signal.SIGKILL)
        process.wait()
        check_every_file_is_whole()
    done = subprocess.run(build, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    check_every_file_is_whole()
    assert (archive / f"{DEMO_WEEK}.html").read_bytes() == clean
