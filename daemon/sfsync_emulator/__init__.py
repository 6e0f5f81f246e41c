"""A local HTTPS stand-in for the parts of Salesforce that sfsync uses (SPEC section 11)."""
