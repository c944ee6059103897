"""Reading a `/metrics` scrape the way Prometheus does (prometheus_client's own parser)."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, dict(s.labels), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples named `name` whose labels include `labels` (0 when none)."""
    return sum(
        v
        for n, have, v in samples(text)
        if n == name and all(have.get(k) == want for k, want in labels.items())
    )


def label_values(text: str, label: str) -> set[str]:
    return {have[label] for _, have, _ in samples(text) if label in have}
