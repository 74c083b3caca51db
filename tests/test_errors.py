"""One exception hierarchy: every error class is an AssistantError whose kind gives its exit code and HTTP status,
and every command's main reports them through one helper."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys

import pytest

import app
from assistant import bench, config, eval, feedback, index, labels, monitor, sync
from assistant.errors import EXIT_STOPPED, AssistantError, command
from assistant.logs import get_logger, setup_logging
from assistant.slack import __main__ as slack_main
from helpers import REPO

MAINS = [app, bench, config, eval, feedback, index, labels, monitor, sync, slack_main]


def _error_classes() -> list[tuple[str, str]]:
    """(module, class) for every `class …Error` the package defines."""
    found = []
    for path in sorted((REPO / "assistant").rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                found.append((module, node.name))
    return found


@pytest.mark.parametrize(("module", "name"), _error_classes())
def test_every_error_class_is_an_assistant_error(module, name):
    assert issubclass(getattr(importlib.import_module(module), name), AssistantError)


@pytest.mark.parametrize(
    ("module", "name", "exit_code", "status"),
    [
        ("assistant.config", "ConfigError", 2, 400),
        ("assistant.service.contract", "RequestError", 2, 400),
        ("assistant.corpus.archive", "ArchiveError", 2, 400),
        ("assistant.service.querylog", "UnknownIdError", 2, 404),
        ("assistant.service.querylog", "LogUnavailableError", 2, 503),
        ("assistant.indexing.store", "IndexLoadError", 2, 503),
        ("assistant.indexing.store", "IndexWriteError", 2, 500),
        ("assistant.sync", "SyncError", 2, 503),
    ],
)
def test_each_error_kind_has_one_exit_code_and_http_status(module, name, exit_code, status):
    error = getattr(importlib.import_module(module), name)
    assert (error.exit_code, error.http_status) == (exit_code, status)


@pytest.mark.parametrize("module", MAINS, ids=lambda module: module.__name__)
def test_every_command_main_goes_through_the_one_helper(module):
    assert module.main.__wrapped__.__name__ == "main" and module.main.__module__ == module.__name__


def test_the_helper_reports_an_error_as_one_line_and_its_exit_code(capsys):
    from assistant.indexing.store import IndexLoadError

    @command
    def fails() -> int:
        raise IndexLoadError("no index at nowhere/")

    assert fails() == EXIT_STOPPED
    assert capsys.readouterr().err == "error: no index at nowhere/\n"


def test_bench_with_a_missing_questions_file_is_one_line_not_a_traceback(tmp_path, capsys):
    missing = tmp_path / "none.jsonl"
    assert bench.main(["--data", str(tmp_path), "--questions", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(missing) in err and len(err.strip().splitlines()) == 1


# --- logging: one format, --quiet and --verbose on every command ---


@pytest.mark.parametrize("module", MAINS, ids=lambda module: module.__name__)
def test_every_command_takes_quiet_and_verbose_but_not_both(module, capsys):
    with pytest.raises(SystemExit) as stopped:
        module.main(["--quiet", "--verbose"])
    assert stopped.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_progress_and_warnings_share_one_format_and_quiet_keeps_only_warnings(capsys):
    logger = get_logger("assistant.test")
    try:
        setup_logging(0)
        logger.info("Reading data/")
        logger.warning("the tuned model gone/ is gone")
        assert capsys.readouterr().err == "Reading data/\nwarning: the tuned model gone/ is gone\n"
        setup_logging(-1)
        logger.info("Reading data/")
        logger.warning("skipped x.md")
        assert capsys.readouterr().err == "warning: skipped x.md\n"
        setup_logging(1)
        logger.debug("step")
        assert capsys.readouterr().err == "debug: step\n"
    finally:
        setup_logging(0)


# --- one startup for app.py and the Slack app ---


def test_app_and_slack_start_the_same_way_and_stop_with_the_same_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}
    args = ["--index", str(tmp_path / "index"), "--data", str(tmp_path / "nowhere"), "--no-log"]
    said = []
    for server in ([str(REPO / "app.py")], ["-m", "assistant.slack"]):
        done = subprocess.run([sys.executable, *server, *args], capture_output=True, text=True, cwd=tmp_path, env=env,
                              timeout=60)  # fmt: skip
        assert done.returncode == 2, done.stderr
        said.append((done.stdout, done.stderr))
    assert said[0] == said[1] and said[0][1].startswith("error: ") and said[0][1].count("\n") == 1, said


# --- one JSONL reader and one question normaliser ---


def test_every_jsonl_reader_names_the_file_and_line_of_a_bad_row_and_skips_blank_lines(tmp_path):
    from assistant.eval import read_labelled
    from assistant.indexing.tuning import read_excluded
    from assistant.judged import read_real

    rows = tmp_path / "rows.jsonl"
    rows.write_text("\n[[[\n")
    for read in (read_labelled, read_excluded, read_real):
        with pytest.raises(ValueError, match=r"rows.jsonl:2: .*JSONDecodeError") as raised:
            read(rows)
        assert isinstance(raised.value, AssistantError) and raised.value.http_status == 400
    rows.write_text('{"query": "q", "targets": [{"book": "b", "thread": 1}]}\n\n' + "[" * 100_000 + "\n")
    with pytest.raises(ValueError, match="rows.jsonl:3: "):  # nested too deep for Python's stack: one line, not a crash
        read_labelled(rows)


def test_one_question_normaliser_for_feedback_tuning_and_related_questions():
    from assistant import feedback
    from assistant.corpus.text import question_key
    from assistant.indexing import tuning
    from assistant.search import searcher

    asked = ["Should startups do MLOps?", "  should STARTUPS do mlops ", "Should startups do MLÖps!"]
    assert len({question_key(question) for question in asked}) == 1
    assert feedback.question_key is tuning.question_key is searcher._question_key is question_key
