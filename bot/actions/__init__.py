"""Business logic behind the tools: validate, format, call Mesh. Knows nothing of Pipecat."""


class ActionError(ValueError):
    """The request cannot be carried out as asked; the message is fit for the LLM."""
