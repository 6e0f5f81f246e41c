"""Every piece of advice naming an `sfsync authorize` or `sfsync revoke` command can be pasted
as it is: it carries `--system SYS` (from `authorize_arguments`) as well as `--env ENV`, which
alone is refused as soon as a second system is configured.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sfsync.actions.status import StatusRow
from sfsync.actions.status_table import fact_rows
from sfsync.config.names import authorize_arguments
from sfsync.errors import TokenStoreError
from sfsync.state.records import ConnectorState
from sfsync.sync.plan import Action, decide
from sfsync.tokens.record import StoredAuthorization

SOURCE = Path(__file__).resolve().parents[2] / "daemon" / "sfsync"
COMMAND = re.compile(r"`sfsync (authorize|revoke)\b")
# How a string literal can carry the selecting options: spelled out, or made by the helper
# (directly, or through a template filled with it).
SELECTS = ("--system", "--all-systems", "authorize_arguments(", "{arguments}")


def advice_literals() -> list[tuple[str, int, str]]:
    """Return (file, line, source) of each string in the product code (docstrings aside) that
    names an `sfsync authorize`/`sfsync revoke` command in backticks.
    """
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        text = path.read_text()
        tree = ast.parse(text)
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant | ast.JoinedStr) or id(node) in docstrings:
                continue
            if isinstance(node, ast.Constant) and not isinstance(node.value, str):
                continue
            segment = ast.get_source_segment(text, node) or ""
            if COMMAND.search(segment):
                found.append((str(path.relative_to(SOURCE)), node.lineno, segment))
    return found


def test_every_authorize_or_revoke_advice_selects_the_system() -> None:
    """No advice string names `sfsync authorize`/`revoke` without `--system SYS`."""
    literals = advice_literals()
    assert len(literals) >= 8, literals  # the scan finds the advice it is meant to check
    missing = [
        f"{file}:{line}: {segment}"
        for file, line, segment in literals
        if not any(select in segment for select in SELECTS)
    ]
    assert not missing, "\n".join(missing)


def test_authorize_arguments_select_one_connector() -> None:
    """The helper gives both options, environment and system."""
    assert authorize_arguments("lightning/sandbox") == "--env sandbox --system lightning"


def test_an_unauthorized_connector_is_told_the_whole_command() -> None:
    """The plan's reason for a connector with no authorization is a pasteable command."""
    decision = decide(
        connector="lightning/production",
        built_sha256="a" * 64,
        built_content_sha256="b" * 64,
        state=ConnectorState(connector="lightning/production"),
        gate=None,
        required_state=None,
        authorized=False,
        api_usage=None,
        api_usage_ceiling=0.8,
        now=datetime(2026, 1, 1, tzinfo=UTC),
        force=False,
    )
    assert decision.action == Action.NEEDS_AUTHORIZATION
    assert "`sfsync authorize --env production --system lightning`" in decision.reason


def test_status_note_names_the_whole_command() -> None:
    """`status`'s note for a connector needing authorization is a pasteable command."""
    row = StatusRow("lightning/sandbox", "lightning", "sandbox", needs_authorization=True)
    notes = [text for _connector, label, text in fact_rows([row]) if label == "note"]
    assert notes == ["run `sfsync authorize --env sandbox --system lightning`"], notes


@pytest.mark.parametrize("text", ["[]", '{"flow": "web"}'])
def test_a_broken_keyring_entry_names_the_whole_commands(text: str) -> None:
    """A keyring entry that is not an authorization names revoke and authorize in full."""
    with pytest.raises(TokenStoreError) as caught:
        StoredAuthorization.from_json(text, "lightning/sandbox")
    assert "--env sandbox --system lightning" in str(caught.value)
