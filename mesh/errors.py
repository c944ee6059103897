"""Errors a client can act on, carried as GraphQL `extensions.code`."""

from __future__ import annotations


class MeshFault(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.extensions = {"code": self.code}


class NotFound(MeshFault):
    code = "NOT_FOUND"


class BadInput(MeshFault):
    code = "BAD_USER_INPUT"
