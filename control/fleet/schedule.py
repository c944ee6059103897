"""The warm pool on a timetable: contact-centre traffic peaks at the same hours every day, and a
pool raised before the peak answers it warm instead of cold-starting into it.

A table, one rule a line (`#` comments), kept in a ConfigMap that operators edit:

    # minute hour day-of-month month day-of-week   warm  [max]
    30 7 * * 1-5    20 80     # weekdays: warm up half an hour before the 08:00 peak
    0 18 * * 1-5    4         # evenings
    0 0 * * 6,0     2         # weekends

The rule in force is the one that fired most recently (cron semantics, via croniter); a CronJob
applies it every few minutes with `voicefleet fleet scale --schedule`, which patches only when
the pool differs, so a missed run heals at the next and a quiet run changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

SCHEDULE_KEY = "schedule"
TIMEZONE_KEY = "timezone"


class ScheduleError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    cron: str
    warm: int
    max_scale: int | None
    line: int


def parse(text: str) -> list[Rule]:
    rules: list[Rule] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) not in (6, 7):
            raise ScheduleError(f"line {number}: need 5 cron fields, warm and an optional max")
        cron = " ".join(fields[:5])
        if not croniter.is_valid(cron):
            raise ScheduleError(f"line {number}: {cron!r} is not a cron expression")
        try:
            warm = int(fields[5])
            ceiling = int(fields[6]) if len(fields) == 7 else None
        except ValueError as exc:
            raise ScheduleError(f"line {number}: warm and max must be whole numbers") from exc
        if warm < 0 or (ceiling is not None and ceiling < warm):
            raise ScheduleError(f"line {number}: need 0 <= warm <= max")
        rules.append(Rule(cron, warm, ceiling, number))
    if not rules:
        raise ScheduleError("the schedule has no rules")
    return rules


def in_force(rules: list[Rule], now: datetime, timezone: str = "UTC") -> Rule:
    """The rule that fired last at or before `now` (in the schedule's time zone)."""
    # A second on, so that a rule firing exactly now counts as fired (get_prev is strict).
    local = now.astimezone(ZoneInfo(timezone)) + timedelta(seconds=1)

    def last_fired(rule: Rule) -> datetime:
        fired: datetime = croniter(rule.cron, local).get_prev(datetime)
        return fired

    return max(rules, key=last_fired)
