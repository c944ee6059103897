"""A pod's /metrics: its slots' own expositions as one, each sample labelled with its slot.

Every slot is a process with its own counters, and Prometheus scrapes the pod's port; the
same series from two slots would collide (and a family must come as one group in the text
format), so the families are merged and a `slot` label tells the processes apart. Summing
over `slot` gives the pod's figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def merge_expositions(by_slot: Mapping[str, str]) -> bytes:
    """Prometheus text from each slot's own (slot name → text) into one exposition."""
    families: dict[str, Metric] = {}
    for slot, text in by_slot.items():
        for family in text_string_to_metric_families(text):
            merged = families.get(family.name)
            if merged is None:
                merged = Metric(family.name, family.documentation, family.type, family.unit)
                families[family.name] = merged
            merged.samples.extend(
                sample._replace(labels={**sample.labels, "slot": slot}) for sample in family.samples
            )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(list(families.values())))
    return generate_latest(registry)
