"""The WSGI application every emulator server runs: faults, routing, errors, limits, logging."""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Request, Response

from sfsync_emulator import (
    control_views,
    deploy_views,
    oauth_views,
    resource_views,
    rest_views,
    soap_views,
)
from sfsync_emulator.context import Context
from sfsync_emulator.errors import ApiError, OAuthError, not_found
from sfsync_emulator.models import DEFAULT_API_VERSIONS, RequestLogEntry
from sfsync_emulator.responses import api_error, oauth_error, server_error
from sfsync_emulator.urls import LOGIN_HOST_ENDPOINTS, URL_MAP, classify, data_version

View = Callable[..., Response]
VIEWS: dict[str, View] = {
    "oauth.authorize": oauth_views.authorize,
    "oauth.token": oauth_views.token,
    "oauth.revoke": oauth_views.revoke,
    "oauth.userinfo": oauth_views.userinfo,
    "oauth.identity": oauth_views.identity,
    "oauth.error_page": oauth_views.error_page,
    "oauth.device_page": oauth_views.device_page,
    "rest.limits": rest_views.limits,
    "rest.versions": rest_views.versions,
    "rest.query": rest_views.query,
    "rest.collection": rest_views.collection,
    "rest.record": rest_views.record,
    "rest.field": rest_views.field,
    "metadata.deploy": deploy_views.submit,
    "metadata.status": deploy_views.status,
    "soap.metadata": soap_views.metadata,
    "resource.serve": resource_views.serve,
    "control.faults": control_views.faults,
    "control.requests": control_views.requests,
    "control.device": control_views.device,
    "control.clients": control_views.clients,
}
LIMITED_APIS = frozenset({"rest", "tooling", "metadata"})
LOG = logging.getLogger(__name__)


class ConnectionResetByFaultError(ConnectionAbortedError):
    """Raised to make werkzeug drop a connection the fault book asked to reset."""


class EmulatorApp:
    """The WSGI app of one server (an org's, or the login host's)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def keeps_alive(self) -> bool:
        """Return whether this server keeps connections open between requests (the login
        host always does; an org unless told not to).
        """
        return self.ctx.org is None or self.ctx.org.keep_alive

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer one request, or reset its connection when a fault says so."""
        request = Request(environ)
        try:
            return self._answer(request, environ, start_response)
        finally:
            request.close()  # multipart uploads spill to temporary files; close them now

    def _answer(
        self, request: Request, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = request.path
        api = classify(path)
        org_id = self.ctx.org.org_id if self.ctx.org else None
        decision = self.ctx.faults.decide(org_id, api, path)
        if decision.latency:
            self.ctx.stop.wait(decision.latency)
        if decision.action == "reset":
            self._log(request, 0, api)
            _arm_reset(environ)
            raise ConnectionResetByFaultError(path)
        if decision.action == "hang":
            self.ctx.stop.wait(decision.seconds)
        if decision.action == "expire_session":
            with self.ctx.backend.lock:
                self.ctx.backend.tokens.expire_sessions({org_id} if org_id else None)
        if decision.action == "error":
            response = server_error(api, decision.status)
        else:
            response = self._dispatch(request, api)
        if api in LIMITED_APIS and self.ctx.org is not None:
            response.headers["Sforce-Limit-Info"] = self.ctx.org.limit_info()
        self._log(request, response.status_code, api)
        return response(environ, start_response)

    def _dispatch(self, request: Request, api: str) -> Response:
        version = data_version(request.path)
        served = self.ctx.org.api_versions if self.ctx.org is not None else DEFAULT_API_VERSIONS
        if version is not None and version not in served:
            # FACTS 2d: a version the org does not serve is 404 for every resource under it,
            # before the token is even looked at.
            return api_error(not_found())
        return self._handle(request, api)

    def _handle(self, request: Request, api: str) -> Response:
        try:
            view, arguments = self._route(request)
            if self.ctx.org is not None:
                self.ctx.backend.advance(self.ctx.org)
            return view(self.ctx, request, **arguments)
        except ApiError as error:
            return api_error(error)
        except OAuthError as error:
            return oauth_error(error)
        except HTTPException as error:
            if api in ("rest", "tooling", "metadata"):
                return api_error(not_found())
            return Response("Not Found", status=error.code or 404, content_type="text/plain")
        except Exception:
            LOG.exception("sfsync_emulator: %s %s failed", request.method, request.path)
            return server_error(api, 500)

    def _serves_version(self, path: str) -> bool:
        version = data_version(path)
        served = self.ctx.org.api_versions if self.ctx.org is not None else DEFAULT_API_VERSIONS
        return version is None or version in served

    def _route(self, request: Request) -> tuple[View, Mapping[str, Any]]:
        if not self._serves_version(request.path):
            # FACTS 2d: a version the org does not serve is 404 NOT_FOUND for every resource
            # under it, before the token is even looked at.
            raise NotFound
        # Methods are checked by the views, to answer 405 in Salesforce's shape.
        endpoint, arguments = URL_MAP.bind("emulator").match(request.path, method="GET")
        if self.ctx.org is None and endpoint not in LOGIN_HOST_ENDPOINTS:
            raise NotFound  # the login host serves OAuth only
        return VIEWS[endpoint], arguments

    def _log(self, request: Request, status: int, api: str) -> None:
        self.ctx.log.append(
            RequestLogEntry(request.method, request.path, status, api, self.ctx.now())
        )


def _arm_reset(environ: dict[str, Any]) -> None:
    """Make the socket send RST when closed (SO_LINGER 0), and stop reading from it."""
    connection = environ.get("werkzeug.socket")
    if connection is None:
        return
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    socket.socket.shutdown(connection, socket.SHUT_RD)
