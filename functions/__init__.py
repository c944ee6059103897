"""HTTP CloudEvent functions (functions-framework, ASGI mode): the gateway and admin."""
