"""`sfsync authorize`: run one OAuth flow for one or several connectors of one org, prove the
token works, and keep the result in the keyring (SPEC sections 5 and 6).
"""

from __future__ import annotations

import time
import webbrowser
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import structlog

from sfsync.auth_wiring import AuthDeps
from sfsync.config import Connector, short_client_id
from sfsync.config.names import authorize_arguments
from sfsync.errors import AuthorizationError, SalesforceError, SfsyncError, UsageError
from sfsync.redact import redact_text
from sfsync.salesforce.callback import CallbackListener
from sfsync.salesforce.identity import fetch_username, ids_from_identity_url
from sfsync.salesforce.oauth import (
    WebFlow,
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
from sfsync.salesforce.token_endpoint import TokenAnswer, secret_required
from sfsync.salesforce.versions import VersionCheck
from sfsync.tokens.record import StoredAuthorization

log = structlog.get_logger("sfsync.authorize")
Flow = Literal["web", "device", "jwt"]
# Salesforce keeps at most five approvals (refresh tokens) per user and app; the sixth revokes
# the oldest without a word (FACTS 1b).
APPROVAL_LIMIT = 5


@dataclass(frozen=True)
class AuthorizeOptions:
    """What the operator asked for: the flow, and its options."""

    flow: Flow = "web"
    open_browser: bool = True
    username: str | None = None
    key_path: Path | None = None
    timeout: float = 300.0
    force: bool = False
    client_secret: str | None = None

    def __repr__(self) -> str:
        return f"AuthorizeOptions(flow={self.flow!r}, force={self.force!r})"


def _no_secret() -> str | None:
    return None


@dataclass
class Interaction:
    """How the flow talks to the operator and the world (injected for tests). `ask_secret`
    returns the consumer secret typed at a terminal, or None when nobody can be asked.
    """

    echo: Callable[[str], None]
    open_url: Callable[[str], bool] = field(default=webbrowser.open)
    sleep: Callable[[float], None] = field(default=time.sleep)
    monotonic: Callable[[], float] = field(default=time.monotonic)
    ask_secret: Callable[[], str | None] = field(default=_no_secret)


@dataclass(frozen=True)
class Authorized:
    """The outcome: who the token acts as, where, and the record now kept per connector."""

    records: Mapping[str, StoredAuthorization]
    username: str
    org_id: str
    instance_url: str
    warnings: tuple[str, ...]


def authorize(
    connectors: Sequence[Connector],
    options: AuthorizeOptions,
    deps: AuthDeps,
    interaction: Interaction,
) -> Authorized:
    """Given the connectors of one org, the options and the dependencies, run the flow once,
    prove the token against the org, store it under every connector (replacing and revoking
    earlier tokens nobody else holds) and return the outcome.

    Raise UsageError for bad options or a replacement that needs --force, AuthorizationError if
    Salesforce or the user refuses, UnsupportedApiVersionError if the org does not serve the
    configured API version. When anything fails after the token was issued, it is revoked.
    """
    check_options(options)
    lead = check_one_app(connectors)
    names = [connector.name for connector in connectors]
    previous = deps.store.get_many(names)
    secret = options.client_secret or _kept_secret(lead, previous.values())
    answer, secret = _run_flow(lead, options, secret, deps, interaction)
    try:
        org_id, user_id, username = _prove(lead, options, answer, deps)
        _check_replacement(previous, org_id, user_id, options.force)
    except SfsyncError:
        _revoke_new(answer, lead, deps, interaction)
        raise
    now = deps.clock().isoformat()
    record = StoredAuthorization(
        flow=options.flow,
        instance_url=answer.instance_url,
        identity_url=answer.identity_url,
        login_url=lead.login_url,
        client_id=lead.client_id,
        issued_at=now,
        refreshed_at=now,
        username=username,
        org_id=org_id,
        user_id=user_id,
        client_secret=secret,
        shared_with=tuple(names) if len(names) > 1 else (),
    )
    record = _with_grant(record, options, answer, lead)
    for name in names:
        deps.store.put(name, record)
    log.info(
        "connector authorized", connectors=names, flow=options.flow, org_id=org_id, user=username
    )
    everyone = deps.store.get_many([c.name for c in deps.loaded.connectors])
    _revoke_replaced(previous, everyone, deps, interaction)
    warnings = approval_warnings(record, everyone)
    return Authorized(
        records=dict.fromkeys(names, record),
        username=username,
        org_id=org_id,
        instance_url=answer.instance_url,
        warnings=warnings,
    )


def check_options(options: AuthorizeOptions) -> None:
    """Raise UsageError if the options do not fit the flow."""
    if options.flow == "jwt":
        if not options.username or options.key_path is None:
            raise UsageError("--flow jwt needs --username USER and --key FILE")
    elif options.username or options.key_path is not None:
        raise UsageError("--username and --key are for --flow jwt only")
    if options.client_secret is not None and options.flow == "jwt":
        # A JWT connector has no refresh token, so no grant of it ever sends the secret.
        raise UsageError("--client-secret-stdin is for the web and device flows, not --flow jwt")
    if options.timeout <= 0:
        raise UsageError("--timeout must be longer than zero")


def check_one_app(connectors: Sequence[Connector]) -> Connector:
    """Given the connectors to authorize together, return the first; raise UsageError unless
    they log in at one URL through one app (one org, one approval).
    """
    if not connectors:
        raise UsageError("no connector to authorize")
    lead = connectors[0]
    for other in connectors[1:]:
        if other.login_url != lead.login_url or other.client_id != lead.client_id:
            raise UsageError(
                f"{lead.name} and {other.name} use different login URLs or apps "
                f"({lead.login_url} {short_client_id(lead.client_id)}, {other.login_url} "
                f"{short_client_id(other.client_id)}), so they are not one org: authorize "
                "them separately"
            )
    return lead


def approval_warnings(
    record: StoredAuthorization, everyone: Mapping[str, StoredAuthorization | None]
) -> tuple[str, ...]:
    """Given the new record and every configured connector's record, return a warning when the
    keyring shows its user holding APPROVAL_LIMIT or more approvals (distinct refresh tokens)
    through its app in its org.
    """
    if record.refresh_token is None or record.org_id is None:
        return ()
    tokens = {
        other.refresh_token
        for other in everyone.values()
        if other is not None
        and other.refresh_token
        and (other.org_id, other.user_id, other.client_id)
        == (record.org_id, record.user_id, record.client_id)
    }
    if len(tokens) < APPROVAL_LIMIT:
        return ()
    return (
        (
            f"{record.username or record.user_id} now holds {len(tokens)} approvals of app "
            f"{short_client_id(record.client_id)} in org {record.org_id}, as far as the keyring "
            f"shows; Salesforce keeps {APPROVAL_LIMIT} per user and app and silently revokes the "
            "oldest at the next one: authorize the systems of one org together (--all-systems), "
            "or use another user or app"
        ),
    )


def _kept_secret(lead: Connector, previous: Iterable[StoredAuthorization | None]) -> str | None:
    # Re-authorizing through the same app keeps its secret: the operator typed it once.
    for record in previous:
        if record is not None and record.client_id == lead.client_id and record.client_secret:
            return record.client_secret
    return None


def _run_flow(
    lead: Connector,
    options: AuthorizeOptions,
    secret: str | None,
    deps: AuthDeps,
    interaction: Interaction,
) -> tuple[TokenAnswer, str | None]:
    if options.flow == "web":
        return _web_flow(lead, options, secret, deps, interaction)
    if options.flow == "device":
        device = start_device_flow(deps.http, lead.login_url, lead.client_id, lead.name)
        interaction.echo(
            f"To authorize {lead.name}, open {device.verification_uri} and enter the code "
            f"{device.user_code} (waiting up to {options.timeout:g}s; the device flow must be "
            "enabled on the External Client App)"
        )
        answer = poll_device_flow(
            deps.http,
            lead.login_url,
            lead.client_id,
            device,
            lead.name,
            timeout=options.timeout,
            sleep=interaction.sleep,
            monotonic=interaction.monotonic,
        )
        # The device flow sends no secret, but its refresh token's grants do when the app's
        # "Require secret for Refresh Token Flow" is on.
        return answer, secret
    key_path = options.key_path
    username = options.username
    if key_path is None or username is None:  # check_options made sure; this tells mypy
        raise UsageError("--flow jwt needs --username USER and --key FILE")
    assertion = jwt_assertion(
        lead.client_id,
        username,
        jwt_audience(lead.login_url),
        read_key_file(key_path),
        deps.clock(),
    )
    try:
        return jwt_grant(deps.http, lead.login_url, assertion, lead.name), None
    except AuthorizationError as error:
        raise AuthorizationError(
            f"{error}; or authorize with the web flow instead, which needs no certificate or "
            f"pre-approval: `sfsync authorize {authorize_arguments(lead.name)} --flow web`"
        ) from None


def _web_flow(
    lead: Connector,
    options: AuthorizeOptions,
    secret: str | None,
    deps: AuthDeps,
    interaction: Interaction,
) -> tuple[TokenAnswer, str | None]:
    oauth = deps.loaded.config.oauth
    redirect_uri = f"http://localhost:{oauth.callback_port}{oauth.callback_path}"
    flow = start_web_flow(deps.http, lead.login_url, lead.client_id, redirect_uri)
    with CallbackListener(
        oauth.callback_port, oauth.callback_path, flow.state, monotonic=interaction.monotonic
    ) as listener:
        interaction.echo(f"To authorize {lead.name}, open this URL in a browser:")
        interaction.echo(flow.authorization_url)
        interaction.echo(
            f"Waiting up to {options.timeout:g}s for the redirect to {redirect_uri} "
            f"(over SSH: ssh -L {oauth.callback_port}:127.0.0.1:{oauth.callback_port} HOST)"
        )
        if options.open_browser and not interaction.open_url(flow.authorization_url):
            interaction.echo("(no browser could be opened; open the URL yourself)")
        code = listener.wait(options.timeout, lead.name)
    return _exchange(flow, lead, code, secret=secret, deps=deps, interaction=interaction)


def _exchange(
    flow: WebFlow,
    lead: Connector,
    code: str,
    *,
    secret: str | None,
    deps: AuthDeps,
    interaction: Interaction,
) -> tuple[TokenAnswer, str | None]:
    try:
        answer = finish_web_flow(
            flow, deps.http, lead.login_url, code, lead.name, client_secret=secret
        )
    except AuthorizationError as error:
        # The app wants its consumer secret: ask for it on a terminal and try the same code
        # again (a refused exchange does not use the code up), instead of another round trip.
        if secret is not None or not secret_required(error):
            raise
        asked = interaction.ask_secret()
        if not asked:
            raise
        return finish_web_flow(
            flow, deps.http, lead.login_url, code, lead.name, client_secret=asked
        ), asked
    return answer, secret


def _prove(
    lead: Connector, options: AuthorizeOptions, answer: TokenAnswer, deps: AuthDeps
) -> tuple[str, str, str]:
    """Use the new token once before keeping it: the ids from its identity URL (no `id` scope
    needed), the API version against the org's list, and the user's name through the REST API.
    """
    org_id, user_id = ids_from_identity_url(answer.identity_url)
    api_version = deps.loaded.config.salesforce.api_version
    VersionCheck(deps.http).require(api_version, answer.instance_url)
    username = fetch_username(
        deps.http, answer.instance_url, api_version, user_id, answer.access_token
    )
    if options.flow == "jwt" and options.username and username != options.username:
        log.warning("jwt user differs", asked=options.username, got=username, connector=lead.name)
    return org_id, user_id, username


def _check_replacement(
    previous: Mapping[str, StoredAuthorization | None], org_id: str, user_id: str, force: bool
) -> None:
    """Raise UsageError when a connector's earlier authorization is another org's or user's
    and --force was not given: a slip of the browser must not move a connector elsewhere.
    """
    if force:
        return
    for name, record in previous.items():
        if record is None or record.org_id is None:
            continue
        if record.org_id != org_id:
            raise UsageError(
                f"{name} is authorized in org {record.org_id}, and this authorization is for "
                f"org {org_id}; nothing was changed: add --force to replace it (a refreshed "
                "sandbox gets a new org id: then --force is expected)"
            )
        if record.user_id is not None and record.user_id != user_id:
            raise UsageError(
                f"{name} is authorized as {record.username or record.user_id}, and this "
                f"authorization is for another user ({user_id}); nothing was changed: add "
                "--force to replace it"
            )


def _with_grant(
    record: StoredAuthorization, options: AuthorizeOptions, answer: TokenAnswer, lead: Connector
) -> StoredAuthorization:
    if options.flow == "jwt":
        key_path = options.key_path.absolute() if options.key_path is not None else None
        return replace(record, username=options.username, key_path=str(key_path))
    if answer.refresh_token is None:
        raise AuthorizationError(
            f"{lead.name}: Salesforce issued no refresh token; give the app the "
            "'refresh_token' (Perform requests at any time) scope and run "
            f"`sfsync authorize {authorize_arguments(lead.name)} --flow {options.flow}` again"
        )
    return replace(record, refresh_token=answer.refresh_token)


def _revoke_new(
    answer: TokenAnswer, lead: Connector, deps: AuthDeps, interaction: Interaction
) -> None:
    # A token that is not kept must not stay valid (nor count as one of the five approvals).
    token = answer.refresh_token or answer.access_token
    try:
        revoke_token(deps.http, answer.instance_url, token, lead.name)
    except SalesforceError as error:
        interaction.echo(redact_text(f"warning: the new token could not be revoked: {error}"))


def _revoke_replaced(
    previous: Mapping[str, StoredAuthorization | None],
    everyone: Mapping[str, StoredAuthorization | None],
    deps: AuthDeps,
    interaction: Interaction,
) -> None:
    """Revoke each replaced refresh token that no configured connector holds any more: it would
    otherwise stay valid with nobody holding it, and count as one of the user's approvals.
    """
    held = {record.refresh_token for record in everyone.values() if record is not None}
    revoked: set[str] = set()
    for name, record in previous.items():
        token = record.refresh_token if record is not None else None
        if record is None or token is None or token in held or token in revoked:
            continue
        revoked.add(token)
        try:
            revoke_token(deps.http, record.instance_url, token, name)
        except SalesforceError as error:
            interaction.echo(
                redact_text(f"warning: the replaced refresh token could not be revoked: {error}")
            )
