"""The reference Mesh: the GraphQL API over the user's data that the bots' tools act on.

Notes, HTML applets and profiles belong to a tenant's user; functional prompts and the
personality belong to the tenant. Every query and mutation is scoped by the caller's identity,
which comes from the bearer token and nowhere else.
"""
