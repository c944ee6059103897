"""What processes cost in memory, from /proc: proportional set size, and the anonymous
pages a process shares with others (after a fork, nothing else shares anonymous memory)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Memory:
    rss_kb: int
    pss_kb: int
    shared_anon_kb: int  # anonymous pages still shared with the parent (copy-on-write)


def _kb(line: str) -> int:
    return int(line.split()[1])


def memory_of(pid: int) -> Memory:
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    values = {line.split(":")[0]: _kb(line) for line in rollup[1:] if line.endswith("kB")}
    shared_anon = 0
    anonymous = True
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and ":" not in head[0]:  # a mapping's first line
            anonymous = (
                len(head) < 6 or head[5] in ("[heap]", "[stack]") or head[5].startswith("[anon")
            )
        elif anonymous and line.startswith(("Shared_Clean:", "Shared_Dirty:")):
            shared_anon += _kb(line)
    return Memory(rss_kb=values["Rss"], pss_kb=values["Pss"], shared_anon_kb=shared_anon)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return sorted(found)
