"""Business logic that reacts to the bot's events: greetings, pacing, roster."""

from bot.handlers.greetings import GreetingHandler
from bot.handlers.pacing import PacingHandler
from bot.handlers.roster import RosterHandler

__all__ = ["GreetingHandler", "PacingHandler", "RosterHandler"]
