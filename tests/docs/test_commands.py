"""Every shell command README.md and docs/*.md show works as written on a fresh clone, or says why it
cannot be run here.

The commands are the lines of fenced `bash`, `sh`, `shell` and `console` blocks (in `console` blocks, the
lines after a `$ ` prompt). Each one must be classified in tests/docs/doc_commands.yaml: `run` runs it
in a fresh checkout of the working tree and expects exit 0; `skip` names what it needs that a test
cannot have (a real tenant, a cluster, cloud storage) or the test that already covers it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
CLASSIFICATION = Path(__file__).with_name("doc_commands.yaml")
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<lang>[\w+-]*)")
# Variables a developer's shell or this test session sets that a fresh clone's shell does not have.
SESSION_VARIABLES = ("PYTHONPATH", "AIRFLOW_HOME", "VIRTUAL_ENV", "PYTHONHOME")


@dataclass(frozen=True)
class Command:
    text: str  # as written, continuation lines joined
    key: str  # the text without its trailing comment, whitespace collapsed: what doc_commands.yaml lists
    where: str  # file:line


def documented_pages() -> list[Path]:
    return [PROJECT / "README.md", *sorted((PROJECT / "docs").rglob("*.md"))]


def _strip_comment(line: str) -> str:
    """The command without a trailing `# comment` (a `#` outside quotes that starts a word)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


def _unbalanced(text: str) -> bool:
    """True while a quote opened in `text` is still open (the command goes on on the next line)."""
    quote = ""
    for char in _strip_comment(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
    return bool(quote)


def commands_in(page: Path) -> Iterator[Command]:
    """The shell commands of one Markdown page, in order."""
    lines = page.read_text().split("\n")
    relative = page.relative_to(PROJECT) if page.is_relative_to(PROJECT) else page
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        index += 1
        if not opening:
            continue
        fence, indent, lang = opening["fence"], len(opening["indent"]), opening["lang"].lower()
        body: list[tuple[int, str]] = []
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append((index + 1, lines[index][indent:]))
            index += 1
        index += 1
        if lang not in SHELL_LANGUAGES:
            continue
        pending, start = "", 0
        for number, line in body:
            if lang == "console" and not pending:
                if not line.startswith("$ "):
                    continue  # output
                line = line[2:]
            if not pending:
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                start = number
            pending = f"{pending}\n{line}" if pending else line
            if pending.endswith("\\") or _unbalanced(pending):
                continue
            text = pending.replace("\\\n", " ")
            key = " ".join(_strip_comment(text).split())
            yield Command(text=text, key=key, where=f"{relative}:{start}")
            pending = ""
        assert not pending, (
            f"{relative}:{start}: a command never ends (an open quote or a trailing backslash)"
        )


def all_commands() -> list[Command]:
    return [command for page in documented_pages() for command in commands_in(page)]


def classification() -> dict[str, dict[str, object]]:
    entries = yaml.safe_load(CLASSIFICATION.read_text())["commands"]
    table: dict[str, dict[str, object]] = {}
    for entry in entries:
        key = " ".join(entry["command"].split())
        assert key not in table, f"{CLASSIFICATION.name}: {key!r} is listed twice"
        assert ("run" in entry) != ("skip" in entry), (
            f"{CLASSIFICATION.name}: {key!r} needs exactly one of run/skip"
        )
        if "skip" in entry:
            assert str(entry["skip"]).strip(), f"{CLASSIFICATION.name}: {key!r} needs a reason to skip"
        else:
            assert isinstance(entry["run"], int) and entry["run"] > 0, (
                f"{key!r}: run takes a timeout in seconds"
            )
        table[key] = entry
    return table


def _fresh_checkout(target: Path) -> Path:
    """The working tree as a fresh clone has it (tracked and new files, nothing git ignores), with the
    project's installed `.venv` and `.tools` linked in, as `make` leaves them on a fresh clone."""
    files = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=PROJECT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, files):
        source = PROJECT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for tool in (".venv", ".tools"):
        if (PROJECT / tool).exists():
            (target / tool).symlink_to((PROJECT / tool).resolve())
    return target


def _fresh_shell_environment() -> dict[str, str]:
    """This process's environment without what a test session or an activated venv adds."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SESSION_VARIABLES and not key.startswith("AIRFLOW__")
    }
    venv = str((PROJECT / ".venv").resolve())
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if not part.startswith((venv, str(PROJECT)))
    )
    return env


def test_every_documented_command_is_classified() -> None:
    table = classification()
    commands = all_commands()
    assert len(commands) >= 10, f"found only {len(commands)} commands: is the extraction broken?"
    unknown = sorted({(command.where, command.key) for command in commands if command.key not in table})
    assert not unknown, (
        "These documented commands are not classified. Add each to tests/docs/doc_commands.yaml with "
        "`run: <timeout s>` if it is safe and fast on a fresh clone (the test runs it and expects exit 0), "
        "or `skip: <reason>` naming what it needs (a real tenant, a cluster, cloud storage, a running "
        "server) or the test that covers it:\n" + "\n".join(f"  {where}: {key}" for where, key in unknown)
    )
    stale = sorted(set(table) - {command.key for command in commands})
    assert not stale, f"tests/docs/doc_commands.yaml lists commands no page shows any more: {stale}"


def test_extraction_joins_continuations_and_strips_comments(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        '```bash\nmake run   # a comment\ncurl -X POST http://x \\\n  -d \'{"a": 1}\'\nduckdb -c "SELECT 1\n'
        '  FROM t"\n```\n\n```console\n$ make help\nmake run - ...\n```\n\n```python\nprint(1)\n```\n'
    )
    keys = [command.key for command in commands_in(page)]
    assert keys == [
        "make run",
        "curl -X POST http://x -d '{\"a\": 1}'",
        'duckdb -c "SELECT 1 FROM t"',
        "make help",
    ]


def _runnable() -> list[Command]:
    """The commands classified `run`, once each; none when the classification cannot be read (the test
    above then says what is wrong with it)."""
    try:
        table = classification()
    except (OSError, AssertionError, KeyError, TypeError, yaml.YAMLError):
        return []
    unique = {command.key: command for command in all_commands() if "run" in table.get(command.key, {})}
    return sorted(unique.values(), key=lambda command: command.key)


RUNNABLE = _runnable()


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fresh_checkout(tmp_path_factory.mktemp("fresh-clone"))


@pytest.mark.parametrize("command", RUNNABLE, ids=[command.key for command in RUNNABLE])
def test_runnable_command_works_as_written(command: Command, fresh_clone: Path) -> None:
    timeout = int(classification()[command.key]["run"])
    result = subprocess.run(
        ["bash", "-c", command.text],
        cwd=fresh_clone,
        env=_fresh_shell_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, (
        f"{command.where}: `{command.text}` exited {result.returncode} in a fresh clone\n"
        f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    )
