"""One way to set every command's options: flag > environment > `--config FILE` (TOML) > default.

Each option of a command is a key named after its long flag (`--log-days` → `log-days`) in the
command's section (`[app]`, `[slack]`, `[sync]`, `[monitor]`, `[index]`) or in `[common]`, which
sets it for every command taking that option; the section wins. Its environment variable is
`ASSISTANT_<SECTION>_<KEY>` for one command or `ASSISTANT_<KEY>` for all (`ASSISTANT_APP_PORT`,
`ASSISTANT_PORT`; dashes become underscores), the first winning. The keys come from each command's
parser, so a new option is configurable with no change here. A repeatable option takes a TOML list
(or one value) and a comma-separated variable; a switch takes true/false. `python -m
assistant.config FILE` checks every section of a file. An unknown key or a value of the wrong type
stops the command with one line naming the file (or variable), the line and the key; exit 2.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.util
import json
import os
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from assistant.errors import BadInput, command
from assistant.logs import setup_logging

CONFIG_ENV = "ASSISTANT_CONFIG"
PREFIX = "ASSISTANT_"
COMMON = "common"
ROOT = Path(__file__).resolve().parent.parent
# Each section's command and where its parser is built; [common] keys are looked up in this order,
# the dashboard (which imports gradio) last.
COMMANDS = {
    "app": "app",
    "slack": "assistant.slack.__main__",
    "index": "assistant.index",
    "sync": "assistant.sync",
    "monitor": "assistant.monitor",
}
SWITCHES = (
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
    argparse.BooleanOptionalAction,
)
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


class ConfigError(BadInput, ValueError):
    """A setting that cannot be used; the message names its file or variable, line and key."""


def parse(
    parser: argparse.ArgumentParser,
    section: str,
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> argparse.Namespace:
    """Parse `argv` with defaults from the environment and the config file; one line and exit 2 on a bad setting."""
    env = os.environ if env is None else env
    parser.add_argument(
        "--config", metavar="FILE", help=f"TOML settings, [{section}] and [{COMMON}] (default: ${CONFIG_ENV})"
    )
    given = _given(parser, argv)
    try:
        defaults = settings(parser, section, given.get("config") or env.get(CONFIG_ENV) or None, env)
    except ConfigError as error:
        parser.exit(error.exit_code, f"error: {error}\n")
    for group in parser._mutually_exclusive_groups:  # a flag given beats the file's setting of its rival
        if any(action.dest in given for action in group._group_actions):
            for action in group._group_actions:
                defaults.pop(action.dest, None)
    parser.set_defaults(**{dest: value for dest, value in defaults.items() if dest not in given})
    return parser.parse_args(argv)


def settings(
    parser: argparse.ArgumentParser, section: str, path: str | Path | None, env: Mapping[str, str]
) -> dict[str, object]:
    """Each option's value from the environment, else the file (its section, else [common]): dest → value."""
    keys = options(parser)
    values = {}
    if path:
        file = ConfigFile.read(Path(path))
        file.check_layout()
        file.check_keys(section, keys)
        for key, action in keys.items():
            found = file.value(section, key, action)
            if found is not None:
                values[action.dest] = found
    for key, action in keys.items():
        for name in (f"{PREFIX}{section}_{key}", f"{PREFIX}{key}"):
            name = name.upper().replace("-", "_")
            if env.get(name):  # empty counts as unset, as $ASSISTANT_INDEX and $ASSISTANT_LOG always have
                values[action.dest] = _from_env(action, key, name, env[name])
                break
    return values


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """The command's settable options by key: the long flag without dashes, --help and --config aside."""
    found = {}
    for action in parser._actions:
        flags = [flag for flag in action.option_strings if flag.startswith("--")]
        if not flags or isinstance(action, (argparse._HelpAction, argparse._VersionAction)) or action.dest == "config":
            continue
        if not isinstance(action, (argparse._StoreAction, argparse._AppendAction, *SWITCHES)):
            raise TypeError(f"{flags[0]}: {type(action).__name__} options cannot be set from a config file")
        found[flags[0][2:]] = action
    return found


def command_parser(section: str) -> argparse.ArgumentParser:
    """The parser of the command a section configures, from its module's `build_parser()`."""
    module_name = COMMANDS[section]
    if module_name == "app":  # app.py sits at the project root, outside the package
        module = sys.modules.get("app")
        if module is None:
            spec = importlib.util.spec_from_file_location("app", ROOT / "app.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules["app"] = module
            spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    return module.build_parser()


def check(path: Path) -> None:
    """Check every section of a config file against its command; ConfigError at the first problem."""
    file = ConfigFile.read(path)
    file.check_layout()
    for section in COMMANDS:
        parser = command_parser(section)
        keys = options(parser)
        for key, action in keys.items():
            file.value(section, key, action)
        file.check_keys(section, keys)


class ConfigFile:
    """A parsed TOML config and its text, to name the line of a key."""

    def __init__(self, path: Path, text: str, data: dict) -> None:
        self.path, self.lines, self.data = path, text.splitlines(), data

    @classmethod
    def read(cls, path: Path) -> ConfigFile:
        try:
            raw = path.read_bytes()
        except OSError as error:
            raise ConfigError(f"{path}: cannot read the config file: {error.strerror or error}") from None
        try:
            text = raw.decode("utf-8")
            data = tomllib.loads(text)
        except UnicodeDecodeError as error:
            raise ConfigError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
        except tomllib.TOMLDecodeError as error:
            message = str(error)
            where = re.search(r"\(at line (\d+), column \d+\)$", message)
            line = f":{where.group(1)}" if where else ""
            problem = message[: where.start()].strip() if where else message
            raise ConfigError(f"{path}{line}: invalid TOML: {problem}") from None
        return cls(path, text, data)

    def check_layout(self) -> None:
        """Only known sections, each a table; no settings outside them."""
        for name, value in self.data.items():
            if name not in COMMANDS and name != COMMON:
                if isinstance(value, dict):
                    where, known = self._where(None, name), self._known(name)
                    raise ConfigError(f"{where}: unknown section [{_printable(name)}]{known}")
                raise ConfigError(f"{self._where(None, name)}: {name!r} is outside any section: put it in [common]")
            if not isinstance(value, dict):
                raise ConfigError(f"{self._where(None, name)}: {name} must be a section, [{name}]")

    def value(self, section: str, key: str, action: argparse.Action) -> object | None:
        """The section's value for `key`, else [common]'s, checked against the option; None when neither sets it."""
        for table in (section, COMMON):
            if key in self.data.get(table, {}):
                return _from_toml(
                    action, self.data[table][key], lambda table=table: self._where(table, key), table, key
                )
        return None

    def check_keys(self, section: str, keys: Mapping[str, argparse.Action]) -> None:
        """Every key of the section is an option of its command; every [common] key, of some command."""
        for key in self.data.get(section, {}):
            if key not in keys:
                raise ConfigError(f"{self._where(section, key)}: [{section}] unknown key {key!r}{_hint(key, keys)}")
        unknown = {key for key in self.data.get(COMMON, {}) if key not in keys}
        every = set(keys)
        for name in COMMANDS:  # the others' parsers load only for a key this command does not take
            if not unknown:
                return
            if name != section:
                taken = set(options(command_parser(name)))
                unknown -= taken
                every |= taken
        for key in self.data.get(COMMON, {}):
            if key in unknown:
                raise ConfigError(
                    f"{self._where(COMMON, key)}: [{COMMON}] unknown key {key!r}: no command takes --{_printable(key)}"
                    + _hint(key, every)
                )

    def _where(self, table: str | None, key: str) -> str:
        """`file:line` of `key` in `table` (None: the top level), or `file` when the line cannot be told."""
        line = _line_of(self.lines, table, key)
        return f"{self.path}:{line}" if line else str(self.path)

    def _known(self, name: str) -> str:
        return _hint(name, [*COMMANDS, COMMON]) or f" (sections: {', '.join([COMMON, *COMMANDS])})"


HEADER = re.compile(r"""^\s*\[\s*([^\[\]#]+?)\s*\]""")


def _line_of(lines: Sequence[str], table: str | None, key: str) -> int | None:
    """The 1-based line setting `key` in `[table]` (`[table.key]` too), or of the header `[key]` when table is None."""
    current = None
    setting = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*[=.]""")
    for number, text in enumerate(lines, 1):
        header = HEADER.match(text)
        if header:
            current = ".".join(part.strip().strip("\"'") for part in header.group(1).split("."))
            table_name = current.split(".")[0] if table is None else current
            if table_name == (key if table is None else f"{table}.{key}"):
                return number
            continue
        if current == table and setting.match(text):
            return number
    return None


def _hint(key: str, known: Sequence[str] | set[str]) -> str:
    close = difflib.get_close_matches(key.replace("_", "-"), sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _from_toml(action: argparse.Action, value: object, where, table: str, key: str) -> object:
    """A TOML value as the option's parsed value; ConfigError naming file, line and key when it is not one."""

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{where()}: [{table}] {key}: {problem}, got {_shown(value)}")

    if isinstance(action, SWITCHES):
        if not isinstance(value, bool):
            raise fail("expected true or false")
        return _switch(action, value)
    if _is_list(action):
        items = value if isinstance(value, list) else [value]
        return [_element(action, item, fail) for item in items]
    return _element(action, value, fail)


def _from_env(action: argparse.Action, key: str, name: str, text: str) -> object:
    """An environment variable's text as the option's parsed value; ConfigError naming the variable."""

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"${name} (--{key}): {problem}, got {_shown(text)}")

    if isinstance(action, SWITCHES):
        word = text.strip().lower()
        if word not in TRUE | FALSE:
            raise fail("expected true or false (1/0, yes/no, on/off)")
        return _switch(action, word in TRUE)
    if _is_list(action):
        return [_element(action, item.strip(), fail, text=True) for item in text.split(",") if item.strip()]
    return _element(action, text, fail, text=True)


def _switch(action: argparse.Action, on: bool) -> bool:
    if isinstance(action, argparse.BooleanOptionalAction):
        return on
    return action.const if on else action.default


def _is_list(action: argparse.Action) -> bool:
    return isinstance(action, argparse._AppendAction) or action.nargs in ("+", "*") or isinstance(action.nargs, int)


def _element(action: argparse.Action, value: object, fail, *, text: bool = False) -> object:
    """One value of the option, converted by its type and checked against its choices."""
    kind = action.type
    if kind in (int, float) and not text:
        if isinstance(value, bool) or not isinstance(value, int if kind is int else (int, float)):
            raise fail("expected a whole number" if kind is int else "expected a number")
        result = kind(value)
    else:
        if not isinstance(value, str):
            raise fail("expected a string")
        try:
            result = kind(value) if callable(kind) else value
        except (ValueError, TypeError, argparse.ArgumentTypeError):
            expected = {int: "a whole number", float: "a number"}.get(kind, getattr(kind, "__name__", "value"))
            raise fail(f"expected {expected}") from None
    if action.choices is not None and result not in action.choices:
        raise fail(f"expected one of {', '.join(map(str, action.choices))}")
    return result


def _shown(value: object) -> str:
    """A value as the error quotes it, on one line: TOML-ish, cut to 60 characters."""
    if isinstance(value, str):
        shown = json.dumps(value)  # escapes line breaks and what stderr might not encode
    else:
        shown = str(value).lower() if isinstance(value, bool) else repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _printable(name: str) -> str:
    """A name as an error shows it: as written, or quoted with escapes when it holds a line break or the like."""
    return name if name.isprintable() else repr(name)


def _given(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> dict[str, object]:
    """The options the command line itself gives: dest → value (a first parse with every default suppressed)."""
    saved = [(action, action.default) for action in parser._actions]
    saved_defaults = dict(parser._defaults)
    try:
        for action, _ in saved:
            if action.option_strings:
                action.default = argparse.SUPPRESS
        parser._defaults.clear()
        return vars(parser.parse_args(argv))
    finally:
        for action, default in saved:
            action.default = default
        parser._defaults.update(saved_defaults)


@command
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.config", description="Check a config file.")
    parser.add_argument("file", type=Path, help="the TOML file, e.g. /etc/ask-the-author.toml")
    add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(verbosity(args))
    check(args.file)
    print(f"{args.file}: every setting is known and of the right type")
    return 0


if __name__ == "__main__":
    sys.exit(main())


def add_verbosity_arguments(parser: argparse.ArgumentParser) -> None:
    """`--quiet` and `--verbose`, which every command takes (and so `quiet`/`verbose` in a config file)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quiet", action="store_true", help="say only warnings and errors, no progress")
    group.add_argument("--verbose", action="store_true", help="say every step, for finding a problem")


def verbosity(args: argparse.Namespace) -> int:
    """-1 for --quiet, 1 for --verbose, else 0: what `setup_logging` takes."""
    return int(args.verbose) - int(args.quiet)


def add_data_argument(
    parser: argparse.ArgumentParser, default: str = "default: the folders the index was built from, else data/"
) -> None:
    """`--data DIR`, repeatable, as the indexer and the app both take it; None when not given."""
    parser.add_argument(
        "--data",
        action="append",
        type=Path,
        metavar="DIR",
        help=f"folder of *.md archives; repeat for several ({default})",
    )


def add_people_argument(parser: argparse.ArgumentParser, default: str = "") -> None:
    """`--people FILE`, as the indexer and the app both take it."""
    text = "YAML map of people slug -> display name for `authors:` lists (each data folder's people.yaml is read too)"
    parser.add_argument("--people", type=Path, metavar="FILE", help=f"{text}; {default}" if default else text)
