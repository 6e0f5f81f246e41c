"""`sfsync authorize`: run one OAuth flow for a connector and keep the result in the keyring."""

from __future__ import annotations

import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import structlog

from sfsync.actions.wiring import AuthDeps
from sfsync.config import Connector
from sfsync.errors import AuthorizationError, SalesforceError, UsageError
from sfsync.redact import redact_text
from sfsync.salesforce.callback import CallbackListener
from sfsync.salesforce.identity import Identity, identity_from
from sfsync.salesforce.oauth import (
    finish_web_flow,
    jwt_assertion,
    jwt_audience,
    jwt_grant,
    poll_device_flow,
    revoke_token,
    start_device_flow,
    start_web_flow,
)
from sfsync.salesforce.session import read_key_file
from sfsync.salesforce.token_endpoint import TokenAnswer
from sfsync.tokens.record import StoredAuthorization

log = structlog.get_logger("sfsync.authorize")
Flow = Literal["web", "device", "jwt"]


@dataclass(frozen=True)
class AuthorizeOptions:
    """What the operator asked for: the flow, and its options."""

    flow: Flow = "web"
    open_browser: bool = True
    username: str | None = None
    key_path: Path | None = None
    timeout: float = 300.0


@dataclass
class Interaction:
    """How the flow talks to the operator and the world (injected for tests)."""

    echo: Callable[[str], None]
    open_url: Callable[[str], bool] = field(default=webbrowser.open)
    sleep: Callable[[float], None] = field(default=time.sleep)
    monotonic: Callable[[], float] = field(default=time.monotonic)


@dataclass(frozen=True)
class Authorized:
    """The outcome: the record now in the keyring, and who it is for (if the org said)."""

    record: StoredAuthorization
    identity: Identity | None


def authorize(
    connector: Connector, options: AuthorizeOptions, deps: AuthDeps, interaction: Interaction
) -> Authorized:
    """Given a connector, the options and the dependencies, run the flow, store the
    authorization in the keyring (replacing and revoking any earlier one) and return it.

    Raise UsageError for bad options, AuthorizationError if Salesforce or the user refuses.
    """
    check_options(options)
    answer = _run_flow(connector, options, deps, interaction)
    record = _record_for(connector, options, deps, answer)
    previous = deps.store.get(connector.name)
    deps.store.put(connector.name, record)
    log.info("connector authorized", connector=connector.name, flow=options.flow)
    if (
        previous is not None
        and previous.refresh_token
        and previous.refresh_token != (record.refresh_token)
    ):
        _revoke_quietly(previous, deps, connector.name, interaction)
    return Authorized(record, _identity(answer, deps, connector.name))


def check_options(options: AuthorizeOptions) -> None:
    """Raise UsageError if the options do not fit the flow."""
    if options.flow == "jwt":
        if not options.username or options.key_path is None:
            raise UsageError("--flow jwt needs --username USER and --key FILE")
    elif options.username or options.key_path is not None:
        raise UsageError("--username and --key are for --flow jwt only")
    if options.timeout <= 0:
        raise UsageError("--timeout must be longer than zero")


def _run_flow(
    connector: Connector, options: AuthorizeOptions, deps: AuthDeps, interaction: Interaction
) -> TokenAnswer:
    oauth = deps.loaded.config.oauth
    if options.flow == "web":
        return _web_flow(connector, options, deps, interaction)
    if options.flow == "device":
        device = start_device_flow(deps.http, connector.login_url, oauth.client_id, connector.name)
        interaction.echo(
            f"To authorize {connector.name}, open {device.verification_uri} and enter the code "
            f"{device.user_code} (waiting up to {options.timeout:g}s)"
        )
        return poll_device_flow(
            deps.http,
            connector.login_url,
            oauth.client_id,
            device,
            connector.name,
            timeout=options.timeout,
            sleep=interaction.sleep,
            monotonic=interaction.monotonic,
        )
    key_path = options.key_path
    username = options.username
    if key_path is None or username is None:  # check_options made sure; this tells mypy
        raise UsageError("--flow jwt needs --username USER and --key FILE")
    assertion = jwt_assertion(
        oauth.client_id,
        username,
        jwt_audience(connector.login_url),
        read_key_file(key_path),
        deps.clock(),
    )
    return jwt_grant(deps.http, connector.login_url, assertion, connector.name)


def _web_flow(
    connector: Connector, options: AuthorizeOptions, deps: AuthDeps, interaction: Interaction
) -> TokenAnswer:
    oauth = deps.loaded.config.oauth
    redirect_uri = f"http://localhost:{oauth.callback_port}{oauth.callback_path}"
    flow = start_web_flow(deps.http, connector.login_url, oauth.client_id, redirect_uri)
    with CallbackListener(
        oauth.callback_port, oauth.callback_path, flow.state, monotonic=interaction.monotonic
    ) as listener:
        interaction.echo(f"To authorize {connector.name}, open this URL in a browser:")
        interaction.echo(flow.authorization_url)
        interaction.echo(
            f"Waiting up to {options.timeout:g}s for the redirect to {redirect_uri} "
            f"(over SSH: ssh -L {oauth.callback_port}:127.0.0.1:{oauth.callback_port} HOST)"
        )
        if options.open_browser and not interaction.open_url(flow.authorization_url):
            interaction.echo("(no browser could be opened; open the URL yourself)")
        code = listener.wait(options.timeout, connector.name)
    return finish_web_flow(flow, deps.http, connector.login_url, code, connector.name)


def _record_for(
    connector: Connector, options: AuthorizeOptions, deps: AuthDeps, answer: TokenAnswer
) -> StoredAuthorization:
    now = deps.clock().isoformat()
    record = StoredAuthorization(
        flow=options.flow,
        instance_url=answer.instance_url,
        identity_url=answer.identity_url,
        login_url=connector.login_url,
        client_id=deps.loaded.config.oauth.client_id,
        issued_at=now,
        refreshed_at=now,
    )
    if options.flow == "jwt":
        key_path = options.key_path.absolute() if options.key_path is not None else None
        return replace(record, username=options.username, key_path=str(key_path))
    if answer.refresh_token is None:
        raise AuthorizationError(
            f"{connector.name}: Salesforce issued no refresh token; give the app the "
            "'refresh_token' (Perform requests at any time) scope and authorize again"
        )
    return replace(record, refresh_token=answer.refresh_token)


def _identity(answer: TokenAnswer, deps: AuthDeps, connector: str) -> Identity | None:
    try:
        response = deps.http.get(
            answer.identity_url, headers={"Authorization": f"Bearer {answer.access_token}"}
        )
        return identity_from(response.json(), answer.identity_url) if response.ok else None
    except (SalesforceError, ValueError, OSError) as error:
        log.warning("identity not available", connector=connector, error=str(error))
        return None


def _revoke_quietly(
    previous: StoredAuthorization, deps: AuthDeps, connector: str, interaction: Interaction
) -> None:
    # The replaced refresh token would otherwise stay valid (and count against the per-user
    # limit of grants per app) with nobody holding it.
    if previous.refresh_token is None:
        return
    try:
        revoke_token(deps.http, previous.instance_url, previous.refresh_token, connector)
    except SalesforceError as error:
        interaction.echo(
            redact_text(f"warning: the replaced refresh token could not be revoked: {error}")
        )
