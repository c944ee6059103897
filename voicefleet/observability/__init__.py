"""Metrics, traces and logs: how an operator sees a fleet that runs on a cluster they cannot
attach a debugger to. Each module holds one of them; services call them at a few clear places,
and each process calls `setup` once, at its edge."""

from voicefleet.observability.setup import setup

__all__ = ["setup"]
