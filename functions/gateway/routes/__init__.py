"""The gateway's endpoints, one module per concern. Each authenticates, validates, then calls
one collaborator."""
