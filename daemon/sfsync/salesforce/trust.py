"""Which hosts a token answer may send sfsync to (SPEC section 7).

A token answer names `instance_url` (where every API call, with its Bearer token, goes from then
on) and `id` (the identity URL, also called with the token). One hostile or mistaken answer
would otherwise hand the tokens to any host for good, so both must be https and on a Salesforce
domain, on the login URL's own host, or on loopback when the login URL is loopback (the
emulator).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sfsync.config.schema import is_loopback_host

# The domains Salesforce serves orgs, My Domains, sandboxes and government clouds from
# (FACTS 1f: *.my.salesforce.com, *.sandbox.my.salesforce.com, *.my.salesforce.mil, ...).
SALESFORCE_DOMAINS = ("salesforce.com", "force.com", "salesforce.mil", "cloudforce.com")


def on_salesforce_domain(host: str) -> bool:
    """Given a host name, return whether it lies on one of Salesforce's own domains."""
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in SALESFORCE_DOMAINS)


def endpoint_problem(url: str, login_url: str) -> str | None:
    """Given a URL a token answer names and the login URL the grant went to, return why sfsync
    must not send a token there, or None when it may.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return "is not an https URL"
    login_host = (urlsplit(login_url).hostname or "").lower()
    if host == login_host or on_salesforce_domain(host):
        return None
    if is_loopback_host(login_host) and is_loopback_host(host):
        return None
    return "is neither on a Salesforce domain nor on the login URL's host"
