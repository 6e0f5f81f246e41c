"""Talking to Salesforce: HTTP, OAuth flows, the per-connector session, identity."""

from sfsync.salesforce.soap_deferred import defer

defer()
