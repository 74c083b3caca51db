"""One config for every command: flag > environment > `--config` file > default, and its errors, through each main."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import app
from assistant import config, sync
from assistant.monitor import build_parser as monitor_parser
from assistant.monitor import main as monitor_main
from assistant.slack.__main__ import parse_args as slack_args
from fakegithub import NAME, OWNER, FakeGitHub, FakeRepo
from helpers import REPO, SEED_ID

DEPLOY = REPO / "deploy"
SETTINGS = DEPLOY / "ask-the-author.toml"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No ASSISTANT_* from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_"):
            monkeypatch.delenv(name)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- precedence: flag > ASSISTANT_<SECTION>_<KEY> > ASSISTANT_<KEY> > [section] > [common] > default ---

APP_FILE = """\
[common]
port = 7001
index = "common-index"
log-days = 30

[app]
port = 7002
allowed-host = ["ask.example.org", "www.ask.example.org"]
no-log = true
"""


@pytest.mark.parametrize(
    ("env", "argv", "port"),
    [
        ({}, [], 7002),  # [app] beats [common]
        ({"ASSISTANT_PORT": "7003"}, [], 7003),  # the variable for every command beats the file
        ({"ASSISTANT_PORT": "7003", "ASSISTANT_APP_PORT": "7004"}, [], 7004),  # the app's own beats it
        ({"ASSISTANT_PORT": "7003", "ASSISTANT_APP_PORT": "7004"}, ["--port", "7005"], 7005),  # the flag beats all
    ],
)
def test_app_port_precedence(tmp_path, monkeypatch, env, argv, port):
    path = write(tmp_path / "c.toml", APP_FILE)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert app.parse_args(["--config", str(path), *argv]).port == port


def test_app_defaults_without_a_config(monkeypatch):
    args = app.parse_args([])
    assert (args.host, args.port, args.log_days, args.allowed_host, args.no_log) == ("127.0.0.1", 7860, 90, [], False)
    monkeypatch.setenv("ASSISTANT_HOST", "0.0.0.0")  # the variables README has always documented
    monkeypatch.setenv("ASSISTANT_PORT", "8080")
    assert (app.parse_args([]).host, app.parse_args([]).port) == ("0.0.0.0", 8080)


def test_app_takes_every_kind_of_value_from_the_file(tmp_path, monkeypatch):
    path = write(tmp_path / "c.toml", APP_FILE)
    args = app.parse_args(["--config", str(path)])
    assert args.index == Path("common-index") and args.log_days == 30
    assert args.allowed_host == ["ask.example.org", "www.ask.example.org"] and args.no_log is True
    monkeypatch.setenv("ASSISTANT_CONFIG", str(path))  # the file named by the environment instead
    assert app.parse_args([]).port == 7002


def test_a_list_flag_replaces_the_files_list_and_the_variable_splits_on_commas(tmp_path, monkeypatch):
    path = write(tmp_path / "c.toml", APP_FILE)
    assert app.parse_args(["--config", str(path), "--allowed-host", "other.org"]).allowed_host == ["other.org"]
    monkeypatch.setenv("ASSISTANT_APP_ALLOWED_HOST", "a.org, b.org")
    assert app.parse_args(["--config", str(path)]).allowed_host == ["a.org", "b.org"]


def test_a_switch_from_the_environment_beats_the_file(tmp_path, monkeypatch):
    path = write(tmp_path / "c.toml", APP_FILE)
    monkeypatch.setenv("ASSISTANT_NO_LOG", "false")
    assert app.parse_args(["--config", str(path)]).no_log is False


def test_a_log_flag_beats_the_files_no_log(tmp_path):
    """--log and --no-log exclude each other: naming one on the command line drops the file's other."""
    path = write(tmp_path / "c.toml", APP_FILE)
    args = app.parse_args(["--config", str(path), "--log", str(tmp_path / "q.sqlite")])
    assert args.no_log is False and args.log == tmp_path / "q.sqlite"


def test_slack_precedence(tmp_path, monkeypatch):
    text = '[common]\nport = 7001\nrate = 3\n[slack]\nweb-url = "https://ask.example.org"\n'
    path = write(tmp_path / "c.toml", text)
    args = slack_args(["--config", str(path)])
    assert (args.port, args.rate, args.web_url, args.http) == (7001, 3, "https://ask.example.org", False)
    monkeypatch.setenv("ASSISTANT_SLACK_RATE", "4")
    monkeypatch.setenv("ASSISTANT_SLACK_HTTP", "yes")
    args = slack_args(["--config", str(path)])
    assert (args.rate, args.http) == (4, True)
    assert slack_args(["--config", str(path), "--rate", "5"]).rate == 5
    monkeypatch.delenv("ASSISTANT_SLACK_RATE")
    assert slack_args([]).rate == 10  # the default


def test_index_takes_the_shared_index_key_and_its_old_out_flag(tmp_path, monkeypatch):
    from assistant.index import build_parser

    path = write(tmp_path / "c.toml", '[common]\nindex = "from-file"\n[index]\ntune-exclude = "eval/dev.jsonl"\n')
    args = config.parse(build_parser(), "index", ["--config", str(path)])
    assert args.out == Path("from-file") and args.tune_exclude == [Path("eval/dev.jsonl")]
    monkeypatch.setenv("ASSISTANT_INDEX", "from-env")
    assert config.parse(build_parser(), "index", ["--config", str(path)]).out == Path("from-env")
    assert config.parse(build_parser(), "index", ["--config", str(path), "--out", "flag"]).out == Path("flag")


WEEKS = ["20210208-ml-design-patterns", SEED_ID]
NEW_WEEK = "20230529-modeling-mindsets"


def test_sync_runs_with_the_files_settings_the_environments_and_the_flags(tmp_path, monkeypatch, data_dir):
    """A real sync against a loopback GitHub: it fills the flag's folder, else the variable's, else the file's."""
    files = {f"_books/{week}.md": (data_dir / f"{week}.md").read_bytes() for week in [*WEEKS, NEW_WEEK]}
    site = FakeRepo({**files, "_people/noahgift.md": b"---\ntitle: Noah Gift\n---\n"})
    folders = {}
    for name in ("file", "env", "flag"):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        for week in [*WEEKS, "people.yaml"]:
            shutil.copy(data_dir / (week if week.endswith(".yaml") else f"{week}.md"), folders[name])
    with FakeGitHub(site) as github:
        text = f'[common]\ndata = "{folders["file"]}"\n[sync]\nrepo = "{OWNER}/{NAME}"\napi = "{github.url}"\n'
        path = write(tmp_path / "c.toml", text + "no-build = true\n")
        assert sync.main(["--config", str(path)]) == 0
        assert (folders["file"] / f"{NEW_WEEK}.md").exists() and not (folders["env"] / f"{NEW_WEEK}.md").exists()
        monkeypatch.setenv("ASSISTANT_SYNC_DATA", str(folders["env"]))
        assert sync.main(["--config", str(path)]) == 0
        assert (folders["env"] / f"{NEW_WEEK}.md").exists() and not (folders["flag"] / f"{NEW_WEEK}.md").exists()
        assert sync.main(["--config", str(path), "--data", str(folders["flag"])]) == 0
        assert (folders["flag"] / f"{NEW_WEEK}.md").exists()


def test_the_monitor_refuses_a_public_host_from_the_file_without_a_password(tmp_path, capsys, monkeypatch):
    path = write(tmp_path / "c.toml", f'[common]\nlog = "{tmp_path / "q.sqlite"}"\n[monitor]\nhost = "0.0.0.0"\n')
    assert monitor_main(["--config", str(path)]) == 2
    assert "needs --password" in capsys.readouterr().err
    monkeypatch.setenv("ASSISTANT_MONITOR_PASSWORD", "from-env")  # the variable it has always read
    args = config.parse(monitor_parser(), "monitor", ["--config", str(path)])
    assert (args.host, args.password, args.log) == ("0.0.0.0", "from-env", tmp_path / "q.sqlite")


# --- errors: one line naming the file (or variable), the line and the key; exit 2 ---


def failure(capsys, text: str | None, tmp_path: Path, *argv: str) -> str:
    """Run app's parser on a config holding `text`; the one line it printed on its exit 2."""
    path = tmp_path / "c.toml"
    if text is not None:
        write(path, text)
    with pytest.raises(SystemExit) as stopped:
        app.parse_args(["--config", str(path), *argv])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip().replace(str(path), "c.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[app]\nhost = '::1'\n\nprot = 8000\n", "error: c.toml:4: [app] unknown key 'prot' (did you mean 'port'?)"),
        (
            "[common]\n# the shared ones\nlog_days = 3\n",
            "error: c.toml:3: [common] unknown key 'log_days': no command takes --log_days (did you mean 'log-days'?)",
        ),
        ('[app]\nport = "8000"\n', 'error: c.toml:2: [app] port: expected a whole number, got "8000"'),
        ("[app]\nport = true\n", "error: c.toml:2: [app] port: expected a whole number, got true"),
        ('[app]\nport = "8\\n0"\n', 'error: c.toml:2: [app] port: expected a whole number, got "8\\n0"'),
        (
            '["a\\nb"]\n',
            "error: c.toml: unknown section ['a\\nb'] (sections: common, app, slack, index, sync, monitor)",
        ),
        ("[common]\n\n  no-log = 1\n", "error: c.toml:3: [common] no-log: expected true or false, got 1"),
        ("[app]\nallowed-host = [1]\n", "error: c.toml:2: [app] allowed-host: expected a string, got [1]"),
        ("[app]\nport = 80\nport = 81\n", "error: c.toml:3: invalid TOML: Cannot overwrite a value"),
        ("[app]\nport =\n", "error: c.toml:2: invalid TOML: Invalid value"),
        ("port = 8000\n", "error: c.toml:1: 'port' is outside any section: put it in [common]"),
        ("[ap]\nport = 1\n", "error: c.toml:1: unknown section [ap] (did you mean 'app'?)"),
        ("[app.extra]\nport = 1\n", "error: c.toml:1: [app] unknown key 'extra'"),
    ],
)
def test_a_bad_file_is_one_line_naming_file_line_and_key(tmp_path, capsys, text, message):
    assert failure(capsys, text, tmp_path) == message


def test_a_wrong_type_in_another_commands_section_waits_for_that_command(tmp_path, capsys):
    """Each command checks its own section and [common]; `python -m assistant.config` checks them all."""
    path = write(tmp_path / "c.toml", "[sync]\nno-build = 'yes'\n")
    assert app.parse_args(["--config", str(path)]).port == 7860
    assert config.main([str(path)]) == 2
    assert capsys.readouterr().err == f'error: {path}:2: [sync] no-build: expected true or false, got "yes"\n'


def test_a_list_where_sync_takes_one_folder_is_named(tmp_path, capsys):
    path = write(tmp_path / "c.toml", '[common]\ndata = ["a", "b"]\n')
    assert app.parse_args(["--config", str(path)]).data == [Path("a"), Path("b")]  # the app reads several
    with pytest.raises(SystemExit):
        sync.main(["--config", str(path)])
    assert capsys.readouterr().err == f"error: {path}:2: [common] data: expected a string, got ['a', 'b']\n"


def test_a_missing_or_unreadable_file_is_named(tmp_path, capsys):
    assert failure(capsys, None, tmp_path) == "error: c.toml: cannot read the config file: No such file or directory"
    (tmp_path / "c.toml").write_bytes(b"[app]\nhost = '\xff'\n")
    assert failure(capsys, None, tmp_path) == "error: c.toml: not UTF-8 text (invalid start byte at byte 14)"


def test_a_bad_variable_is_named(tmp_path, capsys, monkeypatch):
    write(tmp_path / "c.toml", "[app]\n")
    monkeypatch.setenv("ASSISTANT_APP_PORT", "eighty")
    message = 'error: $ASSISTANT_APP_PORT (--port): expected a whole number, got "eighty"'
    assert failure(capsys, None, tmp_path) == message
    monkeypatch.delenv("ASSISTANT_APP_PORT")
    monkeypatch.setenv("ASSISTANT_NO_LOG", "maybe")
    assert failure(capsys, None, tmp_path) == (
        'error: $ASSISTANT_NO_LOG (--no-log): expected true or false (1/0, yes/no, on/off), got "maybe"'
    )


def test_the_app_stops_with_one_line_and_exit_2(tmp_path):
    """The whole command, as a user runs it: no traceback, no usage text."""
    path = write(tmp_path / "c.toml", "[app]\nport = 'eighty'\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("ASSISTANT_")}
    done = subprocess.run(
        [sys.executable, "app.py", "--config", str(path)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f'error: {path}:2: [app] port: expected a whole number, got "eighty"\n'


# --- deploy/ask-the-author.toml documents every option of every command ---


def documented(text: str) -> dict[str, set[str]]:
    """Section → the keys the file sets or shows in a comment (`# key = value`)."""
    found: dict[str, set[str]] = {}
    section = None
    for line in text.splitlines():
        header = re.match(r"^\[(\w+)\]$", line)
        if header:
            section = header.group(1)
            continue
        key = re.match(r"^(?:# )?([a-z][a-z0-9-]*) = ", line)
        if key and section:
            found.setdefault(section, set()).add(key.group(1))
    return found


def test_the_deploy_config_documents_every_option_of_every_command():
    keys = documented(SETTINGS.read_text(encoding="utf-8"))
    for section in config.COMMANDS:
        options = set(config.options(config.command_parser(section)))
        missing = options - keys.get(section, set()) - keys.get(config.COMMON, set())
        assert not missing, f"deploy/ask-the-author.toml does not document [{section}] {sorted(missing)}"
        assert keys.get(section, set()) <= options


def test_the_deploy_config_and_its_commented_examples_are_valid(tmp_path):
    config.check(SETTINGS)
    uncommented = re.sub(r"(?m)^# ([a-z][a-z0-9-]*) = ", r"\1 = ", SETTINGS.read_text(encoding="utf-8"))
    config.check(write(tmp_path / "all.toml", uncommented))
    args = app.parse_args(["--config", str(SETTINGS)])
    assert args.index == Path("/var/lib/ask-the-author/index") and args.port == 7860


# --- deploy/: the systemd units ---

UNITS = ["ask-the-author.service", "ask-the-author-slack.service", "ask-the-author-sync.service",
         "ask-the-author-sync.timer"]  # fmt: skip
SYSTEMD_ANALYZE = Path("/usr/bin/systemd-analyze")


def test_the_systemd_units_verify(tmp_path):
    """`systemd-analyze verify` on the units, rendered with this checkout and its Python for /opt/ask-the-author."""
    assert SYSTEMD_ANALYZE.exists(), "systemd-analyze is missing: `make systemd` installs Debian's systemd"
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        text = text.replace("/opt/ask-the-author/.venv/bin/python", sys.executable)
        write(tmp_path / name, text.replace("/opt/ask-the-author", str(REPO)))
    done = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    assert done.returncode == 0 and done.stderr == "" and done.stdout == "", done.stderr + done.stdout


def test_the_units_run_the_commands_with_the_config():
    for name in UNITS[:3]:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        assert "--config /etc/ask-the-author.toml" in text and "User=ask-the-author" in text
        assert "ProtectSystem=strict" in text and "NoNewPrivileges=yes" in text
    assert "OnCalendar=daily" in (DEPLOY / "ask-the-author-sync.timer").read_text(encoding="utf-8")
