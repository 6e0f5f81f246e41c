"""Talking to Salesforce: HTTP, OAuth flows, the per-connector session, identity."""
