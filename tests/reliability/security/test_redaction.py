"""Security item 7, replayed: a secret in each shape it has leaked in reaches no sink — not a
log line (sfsync's own or a library's), not the CLI's error line, not the state store, not
`/healthz`.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from sfsync import cli
from sfsync.actions.status import StatusRow, with_state_columns
from sfsync.daemon.health import UNHEALTHY, ConnectorHealth, health
from sfsync.errors import ExitStatus
from sfsync.log import configure_logging
from sfsync.redact import REDACTED, redact_text, redact_value
from sfsync.state.records import ConnectorState
from sfsync.state.store import StateStore
from sfsync.sync.result import Result

ORG_ID = "00D5g000004XyZa"
SECRET_PART = "AQa1B2c3D4._" * 8
ACCESS = f"{ORG_ID}!{SECRET_PART}"
ACCESS_URL_ENCODED = f"{ORG_ID}%21{SECRET_PART}"
OPAQUE = "opaque-secret-value-42"
CONNECTOR = "lightning/sandbox"
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Configure JSON logging onto a fresh stream; put the root logger and structlog back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("json", stream=stream, level=logging.INFO)
    yield stream
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    structlog.reset_defaults()


def test_url_encoded_access_token() -> None:
    """An access token whose `!` is percent-encoded (`%21`, or `%2521` twice over) is replaced."""
    assert redact_text(f"GET /x?sid={ACCESS_URL_ENCODED}&a=1") == f"GET /x?sid={REDACTED}&a=1"
    assert redact_text(f"token {ACCESS_URL_ENCODED} end") == f"token {REDACTED} end"
    twice = f"{ORG_ID}%2521{SECRET_PART}"
    assert redact_text(f"next={twice}") == f"next={REDACTED}"


def test_python_dict_repr() -> None:
    """A token answer printed as a Python dict loses its token values, whatever they look like."""
    text = repr({"access_token": OPAQUE, "instance_url": "https://x.my.salesforce.com"})
    redacted = redact_text(f"answer: {text}")
    assert OPAQUE not in redacted
    assert f"'access_token': '{REDACTED}'" in redacted
    assert "'instance_url': 'https://x.my.salesforce.com'" in redacted


def test_python_keyword_repr() -> None:
    """A dataclass-style repr (`refresh_token='...'`) loses the value of each secret field."""
    redacted = redact_text(f"Token(refresh_token='{OPAQUE}', instance='x')")
    assert OPAQUE not in redacted
    assert "instance='x'" in redacted


def test_escaped_json_inside_json() -> None:
    """JSON quoted inside a JSON string (`\\"refresh_token\\":\\"...\\"`) loses its token value."""
    inner = json.dumps({"refresh_token": OPAQUE, "scope": "api"}, separators=(",", ":"))
    outer = json.dumps({"body": inner})
    redacted = redact_text(outer)
    assert OPAQUE not in redacted
    assert json.loads(json.loads(redacted)["body"]) == {"refresh_token": REDACTED, "scope": "api"}


def test_device_code_parameter() -> None:
    """A `device_code=` form field, plain or percent-encoded, loses its value."""
    assert redact_text(f"device_code={OPAQUE}&grant_type=x") == (
        f"device_code={REDACTED}&grant_type=x"
    )
    assert OPAQUE not in redact_text(f"body=device_code%3D{OPAQUE}%26client_id%3Dx")


def test_key_named_code_but_not_exit_code() -> None:
    """A log key named `code` (an OAuth code) is hidden; `exit_code`, `status_code` are not."""
    assert redact_value("code", OPAQUE) == REDACTED
    assert redact_value("CODE", OPAQUE) == REDACTED
    assert redact_value("exit_code", 3) == 3
    assert redact_value("status_code", "500") == "500"
    assert redact_text(f"/callback?code={OPAQUE}&state=s") == f"/callback?code={REDACTED}&state=s"


def test_standard_library_traceback_is_redacted(log_stream: io.StringIO) -> None:
    """APScheduler's job traceback (standard-library logging) is one JSON line, token removed."""
    try:
        raise RuntimeError(f"refresh failed for {ACCESS} / {ACCESS_URL_ENCODED}")  # noqa: TRY301
    except RuntimeError:
        logging.getLogger("apscheduler.executors.default").exception(
            "Job %r raised an exception", f"push?access_token={OPAQUE}"
        )
    lines = log_stream.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["level"] == "error"
    assert event["logger"] == "apscheduler.executors.default"
    assert "RuntimeError" in event["exception"]
    for secret in (ACCESS, ACCESS_URL_ENCODED, SECRET_PART, OPAQUE):
        assert secret not in lines[0]


def test_standard_library_info_chatter_is_dropped(log_stream: io.StringIO) -> None:
    """A library's info record does not reach the stream; sfsync's own info event does."""
    logging.getLogger("apscheduler.scheduler").info("Running job")
    structlog.get_logger("sfsync").info("pushed", token=OPAQUE)
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["pushed"]
    assert lines[0]["token"] == REDACTED


def test_cli_internal_error_line_is_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sfsync: internal error: ...` and the traceback logged with it carry no token."""

    def explode(_option: Path | None) -> Path:
        message = f"session {ACCESS} rejected: {{'access_token': '{OPAQUE}'}}"
        raise RuntimeError(message)

    monkeypatch.setattr(cli, "find_config_path", explode)
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main(["config", "check"])
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        structlog.reset_defaults()
    err = capsys.readouterr().err
    assert exited.value.code == ExitStatus.FAILURE
    assert "sfsync: internal error: RuntimeError: session [redacted]" in err
    assert ACCESS not in err
    assert OPAQUE not in err


def test_last_error_is_redacted_in_the_state_store(tmp_path: Path) -> None:
    """An error quoting a token is stored without it, as the connector's and the push's error."""
    store = StateStore.open(tmp_path / "state")
    try:
        stored = []
        for error in (f"HTTP 401 for Bearer {ACCESS}", f"answer {{'refresh_token': '{OPAQUE}'}}"):
            push_id = store.begin_push(
                CONNECTOR,
                sha256="a" * 64,
                content_sha256="c" * 64,
                source_version="v1",
                api="tooling",
                now=T0,
            )
            store.fail_push(push_id, error=error, now=T0)
            (last, *_) = store.history(CONNECTOR)
            stored.append((store.connector(CONNECTOR).last_error or "", last.error or ""))
    finally:
        store.close()
    assert stored[0] == (f"HTTP 401 for Bearer {REDACTED}",) * 2
    assert all(OPAQUE not in text and REDACTED in text for text in stored[1])


def test_last_error_is_redacted_on_healthz_and_status() -> None:
    """An error stored before redaction existed is still redacted on `/healthz` and `status`."""
    leaked = f"invalid_grant for refresh_token={OPAQUE} ({ACCESS_URL_ENCODED})"
    status, body = health(
        scheduler_running=True,
        connectors={
            CONNECTOR: ConnectorHealth(
                authorized=True, last_result=Result.FAILED, last_error=leaked
            )
        },
    )
    assert status == UNHEALTHY
    written = json.dumps(body)
    assert OPAQUE not in written
    assert SECRET_PART not in written
    assert "invalid_grant" in written
    system, environment = CONNECTOR.split("/")
    row = StatusRow(CONNECTOR, system, environment)
    shown = with_state_columns(row, ConnectorState(CONNECTOR, last_error=leaked), None).last_error
    assert shown is not None
    assert OPAQUE not in shown
    assert "invalid_grant" in shown
