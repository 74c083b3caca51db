"""`python -m assistant.sync` against a loopback fake of GitHub's trees and blobs API, serving real archives."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fakegithub
from assistant import sync
from assistant.corpus.archive import read_archive
from assistant.corpus.authors import load_people, unresolved_slugs
from assistant.indexing import store
from assistant.indexing.store import build_index, load_built_index, read_manifest
from assistant.sync import Repo, git_blob_sha
from fakegithub import NAME, OWNER, FakeGitHub, FakeRepo
from fakes import FAKE_MODEL_ID, HashedWordsEmbedder
from helpers import REPO, SEED_ID

WEEKS = ["20210208-ml-design-patterns", "20210315-database-internals", SEED_ID]
NEW_WEEK = "20230529-modeling-mindsets"
TOKEN = "ghp_not-a-real-token-0123456789"


@pytest.fixture
def local(tmp_path, data_dir) -> Path:
    """A data folder holding three real weeks and data/'s people.yaml."""
    folder = tmp_path / "data"
    folder.mkdir()
    for week in WEEKS:
        shutil.copy(data_dir / f"{week}.md", folder)
    shutil.copy(data_dir / "people.yaml", folder)
    return folder


@pytest.fixture
def site(data_dir) -> FakeRepo:
    """The website repository: the same three weeks, one more, the template, and a person page."""
    files = {f"_books/{week}.md": (data_dir / f"{week}.md").read_bytes() for week in [*WEEKS, NEW_WEEK]}
    files["_books/_template.md"] = b"---\ntitle: template\n---\n"
    files["_people/noahgift.md"] = b"---\ntitle: Noah Gift\n---\n"
    return FakeRepo(files)


def run(folder: Path, api: str, *options: str) -> int:
    return sync.main(["--repo", f"{OWNER}/{NAME}", "--api", api, "--data", str(folder), "--no-build", *options])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_blob_sha_is_git_s():
    assert git_blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"  # `git hash-object`


def test_a_new_week_is_added_and_only_it_is_downloaded(local, site, capsys):
    with FakeGitHub(site) as github:
        assert run(local, github.url) == 0
        assert github.blob_requests() == [git_blob_sha(site.files[f"_books/{NEW_WEEK}.md"])]
    assert (local / f"{NEW_WEEK}.md").read_bytes() == site.files[f"_books/{NEW_WEEK}.md"]
    assert not (local / "_template.md").exists()
    assert sorted(p.name for p in local.iterdir()) == sorted([*(f"{w}.md" for w in [*WEEKS, NEW_WEEK]), "people.yaml"])
    out = capsys.readouterr().out
    assert f"added 1: {NEW_WEEK}" in out and "changed 0" in out and "kept 3 unchanged" in out


def test_a_changed_week_replaces_the_old_file(local, site):
    week = local / f"{SEED_ID}.md"
    week.write_bytes(week.read_bytes().replace(b"Practical MLOps", b"Practical ML Ops (draft)"))
    with FakeGitHub(site) as github:
        report = sync.sync(local, sync.GitHub(Repo(OWNER, NAME), github.url))
    assert (report.added, report.changed, report.kept, report.failed) == ([NEW_WEEK], [SEED_ID], WEEKS[:2], [])
    assert week.read_bytes() == site.files[f"_books/{SEED_ID}.md"]
    assert not [p for p in local.iterdir() if p.name.startswith(".")]  # no staging files left


def test_a_broken_download_is_reported_and_the_old_file_kept(local, site, capsys):
    before = snapshot(local)
    broken = f"_books/{WEEKS[0]}.md"
    site.files[broken] = site.files[broken].replace(b"title:", b"title: [unclosed", 1)  # valid blob, invalid YAML
    site.files[f"_books/{WEEKS[1]}.md"] += b"\n"  # changed on the site ...
    site.damaged.add(f"_books/{WEEKS[1]}.md")  # ... and cut short on the way
    with FakeGitHub(site) as github:
        assert run(local, github.url) == 1
    after = snapshot(local)
    assert after.pop(f"{NEW_WEEK}.md") == site.files[f"_books/{NEW_WEEK}.md"]  # the good one still arrives
    assert after == before
    out = capsys.readouterr().out
    assert "failed 2, left as they were:" in out
    assert f"{WEEKS[0]}: {local / WEEKS[0]}.md:" in out and "invalid YAML" in out
    assert f"{WEEKS[1]}: the download does not match its blob SHA" in out


def test_offline_changes_nothing_and_says_so_in_one_line(local, capsys):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens: connection refused
    before = snapshot(local)
    assert run(local, f"http://127.0.0.1:{port}") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach http://127.0.0.1:{port}") and "refused" in err
    assert err.strip().endswith(f"{local} is unchanged") and len(err.strip().splitlines()) == 1
    assert snapshot(local) == before


@pytest.mark.parametrize("limited", ["trees", "blobs"])
def test_a_rate_limit_changes_nothing_and_never_prints_the_token(local, site, capsys, monkeypatch, limited):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    (local / f"{SEED_ID}.md").write_bytes(b"---\ntitle: an old copy\n---\n")
    before = snapshot(local)
    site.rate_limited.add(limited)
    with FakeGitHub(site) as github:
        assert run(local, github.url) == 2
    assert set(site.tokens) == {f"Bearer {TOKEN}"}
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    assert captured.err.startswith("error: GitHub's API rate limit is used up until ")
    assert "set $GITHUB_TOKEN" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert snapshot(local) == before


def test_a_renamed_author_slug_gets_its_name_from_people_pages(local, site):
    seed = f"_books/{SEED_ID}.md"
    site.files[seed] = site.files[seed].replace(b"authors: [noahgift,", b"authors: [noah-gift,")
    site.files["_people/noah-gift.md"] = b'---\ntitle: "Noah Gift"\nlinkedin: x\n---\nBio.\n'
    people_before = load_people(local / "people.yaml")
    with FakeGitHub(site) as github:
        report = sync.sync(local, sync.GitHub(Repo(OWNER, NAME), github.url))
        asked = [path for path in site.requests if "/blobs/" in path]
    assert report.changed == [SEED_ID] and report.people == {"noah-gift": "Noah Gift"}
    assert len(asked) == 3  # the changed week, the new week, the one person page: nothing else travels
    people = load_people(local / "people.yaml")
    assert people == {**people_before, "noah-gift": "Noah Gift"}
    assert unresolved_slugs(read_archive(local / f"{SEED_ID}.md").authors, people) == []


@pytest.mark.parametrize("text", ["DataTalksClub", "a/b/c", "owner/name@"])
def test_a_malformed_repo_is_refused_naming_the_form(text):
    with pytest.raises(ValueError, match="OWNER/NAME or OWNER/NAME@REF"):
        Repo.parse(text)


def test_repo_with_a_ref():
    assert Repo.parse("DataTalksClub/datatalksclub.github.io@f1d5b7a") == Repo(OWNER, NAME, "f1d5b7a")


@pytest.mark.slow
def test_python_m_assistant_sync_rebuilds_the_index_with_the_new_week(tmp_path, local, site, seed_index):
    for week in WEEKS[:2]:  # the seed and one new week keep the build short
        (local / f"{week}.md").unlink()
        del site.files[f"_books/{week}.md"]
    index = Path(shutil.copytree(seed_index, tmp_path / "index", symlinks=True))
    command = [sys.executable, "-m", "assistant.sync", "--repo", f"{OWNER}/{NAME}", "--data", str(local)]
    with FakeGitHub(site) as github:
        command += ["--api", github.url, "--index", str(index)]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"added 1: {NEW_WEEK}" in done.stdout and "Building the index" in done.stdout
    assert {unit.book for unit in load_built_index(index).units} == {SEED_ID, NEW_WEEK}


def test_a_sync_rebuild_keeps_the_index_s_other_archive_folders(tmp_path, local, data_dir, monkeypatch):
    """Issue 26, bug 2: an index of two folders, synced into a third, holds all three (the fake model builds it)."""
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(data_dir / f"{NEW_WEEK}.md", other)
    (local / f"{WEEKS[0]}.md").rename(tmp_path / f"{WEEKS[0]}.md")
    index = tmp_path / "index"
    build_index([local, other], index, embedder=HashedWordsEmbedder())
    synced = tmp_path / "synced"
    synced.mkdir()
    (tmp_path / f"{WEEKS[0]}.md").rename(synced / f"{WEEKS[0]}.md")
    monkeypatch.setattr(store, "build_embedder", lambda model, out: HashedWordsEmbedder())
    assert sync._rebuild(synced, index) == 0
    manifest = read_manifest(index)
    assert manifest["data"] == [str(folder.resolve()) for folder in (local, other, synced)]
    assert set(manifest["archives"]) == {f"{week}.md" for week in [*WEEKS, NEW_WEEK]}
    assert NEW_WEEK in {unit.book for unit in load_built_index(index, model=FAKE_MODEL_ID).units}


# Hostile sites (issue 25, rows 1-4): what the site sends never lands outside data/, over the project's own
# files, or without limits; a malformed answer is one line and exit 2.


def test_remote_names_are_taken_only_as_safe_names_inside_data(tmp_path, local, site, capsys):
    (tmp_path / "abs").mkdir()
    source = local / "SOURCE.md"
    source.write_bytes(b"# Where the archives come from\n")
    before = snapshot(local)
    good = site.files[f"_books/{NEW_WEEK}.md"]
    hostile = ["../../escape-rel.md", str(tmp_path / "abs" / "path.md"), "SOURCE.md", ".md", "..md", "bad\nname.md",
               "a" * 300 + ".md", "nested/week.md"]  # fmt: skip
    for n, name in enumerate(hostile):
        site.files[f"_books/{name}"] = good.replace(b"title:", b"title: %d" % n, 1)
    site.files["_books/../x.md"] = b"---\ntitle: [unclosed\n---\n"  # fails its checks too
    with FakeGitHub(site) as github:
        assert run(local, github.url) == 1
        assert github.blob_requests() == [git_blob_sha(good)]  # nothing else was even downloaded
    after = snapshot(local)
    assert after.pop(f"{NEW_WEEK}.md") == good and after == before
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and local not in p.parents) == []
    out = capsys.readouterr().out
    assert "refused 9 names on the site that are not safe file names: " in out
    assert "'bad\\nname.md'" in out and "'SOURCE.md'" in out and "'../x.md'" in out
    assert len(out.splitlines()) == 5  # Synced, added, changed, kept, refused: no name broke a line


def test_a_redirect_to_another_host_is_followed_without_the_token(local, site, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with FakeGitHub(FakeRepo(dict(site.files))) as elsewhere, FakeGitHub(site) as github:
        site.hostile["blobs"] = fakegithub.redirect_to(elsewhere.url.replace("127.0.0.1", "localhost"))
        assert run(local, github.url) == 0
    assert (local / f"{NEW_WEEK}.md").read_bytes() == site.files[f"_books/{NEW_WEEK}.md"]
    assert elsewhere.blob_requests() and set(elsewhere.repo.tokens) == {None}
    assert set(site.tokens) == {f"Bearer {TOKEN}"}


def test_a_redirect_to_another_scheme_is_not_followed(local, site, capsys):
    site.hostile["trees"] = fakegithub.redirect_to("ftp://127.0.0.1:1")
    before = snapshot(local)
    with FakeGitHub(site) as github:
        assert run(local, github.url) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: GET ") and ": HTTP 302 " in err and len(err.strip().splitlines()) == 1
    assert snapshot(local) == before


def test_a_redirect_on_the_api_s_own_host_keeps_the_token(local, site, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with FakeGitHub(site) as github:
        site.hostile["blobs"] = fakegithub.redirect_to(github.url + fakegithub.MIRROR)
        assert run(local, github.url) == 0
    assert any(path.startswith(fakegithub.MIRROR) for path in site.requests)
    assert set(site.tokens) == {f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    ("behaviour", "says"),
    [
        ("huge", "bytes, over the 1,048,576-byte limit"),
        ("endless", "the answer is over the 1,048,576-byte limit"),
        ("drip", "the sync took longer than 2 s"),
        ("many", "the site sent over 2,000,000 bytes in one sync"),
    ],
)
def test_downloads_are_capped_in_size_total_bytes_and_time(local, site, data_dir, behaviour, says):
    before = snapshot(local)
    if behaviour == "many":  # each under the per-answer cap, together over the total
        for week in sorted(p.stem for p in data_dir.glob("202*.md"))[:60]:
            site.files[f"_books/{week}.md"] = (data_dir / f"{week}.md").read_bytes()
    else:
        site.hostile["blobs"] = getattr(fakegithub, behaviour)
    started = time.monotonic()
    with FakeGitHub(site) as github:
        client = sync.GitHub(Repo(OWNER, NAME), github.url, deadline=2, max_answer=1024 * 1024, max_total=2_000_000)
        with pytest.raises(sync.SyncError, match=says):
            sync.sync(local, client)
    assert time.monotonic() - started < 30  # a hang would be the test's failure, not a slow pass
    assert snapshot(local) == before


@pytest.mark.parametrize(
    ("hostile", "says"),
    [
        ({"extra_entries": [{"path": 7, "type": "blob", "sha": "0" * 40}]}, "has a malformed entry: {'path': 7"),
        ({"extra_entries": [{"path": "x.md", "type": "blob", "sha": "../../x"}]}, "has a malformed entry"),
        ({"hostile": {"trees": "incomplete"}}, "the answer was cut off at 10 of 1,000 bytes"),
        ({"hostile": {"trees": "deep_json"}}, "did not answer JSON"),
        ({"rate_limited": {"trees"}, "rate_reset": "1" + "0" * 20}, "GitHub's API rate limit is used up (HTTP 403)"),
    ],
)
def test_a_malformed_answer_is_one_line_and_exit_2(local, site, capsys, hostile, says):
    before = snapshot(local)
    for name, value in hostile.items():
        if name == "hostile":
            value = {kind: getattr(fakegithub, how) for kind, how in value.items()}
        setattr(site, name, value)
    with FakeGitHub(site) as github:
        assert run(local, github.url) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and len(err.strip().splitlines()) == 1
    assert snapshot(local) == before


def test_a_person_page_nested_50k_deep_leaves_that_slug_unresolved_and_the_sync_goes_on(local, site):
    seed = f"_books/{SEED_ID}.md"
    site.files[seed] = site.files[seed].replace(b"authors: [noahgift,", b"authors: [noah-gift,")
    site.files["_people/noah-gift.md"] = b"---\ntitle: " + b"[" * 50_000 + b"]" * 50_000 + b"\n---\n"
    with FakeGitHub(site) as github:
        report = sync.sync(local, sync.GitHub(Repo(OWNER, NAME), github.url))
    assert report.changed == [SEED_ID] and report.added == [NEW_WEEK] and report.people == {}
