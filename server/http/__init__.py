"""The HTTP edges: errors, auth, one module per API resource."""
