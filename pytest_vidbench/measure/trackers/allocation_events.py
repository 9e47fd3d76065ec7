"""The CPU memory probe's figure, read from torch.profiler's raw results.

`profile.events()` builds a Python FunctionEvent for each of the call's ~10-20k ops (0.2-0.9 s
per tiny pipeline on a 2-core CPU, the larger part of the probe's cost) only for the memory
tracker to keep each op's "self" CPU memory. This computes the same numbers from the raw
kineto events, with the rules of torch/autograd/profiler.py `_parse_kineto_results` and
profiler_util.py `_populate_cpu_children` (torch 2.13):

- an allocation record belongs to every CPU op whose [start, end] holds its time, on any
  thread; an op's self memory is that sum less its nested children's sums;
- children nest per thread, in (start, -end) order, only inside a parent they fit wholly;
- records no CPU op holds stand on their own, at their own time.

tests/test_trackers.py checks both readings against each other on real pipelines.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MEMORY = "[memory]"
# Ops torch.autograd.profiler leaves out (profiler_util.py `_filter_name`).
LEFT_OUT = frozenset({MEMORY, "[OutOfMemory]", "profiler::_record_function_enter",
                      "profiler::_record_function_enter_new", "profiler::_record_function_exit",
                      "aten::is_leaf", "aten::output_nr", "aten::_version"})


@dataclass
class _Op:
    start: int
    end: int
    thread: int
    sync: bool  # a synchronous CPU op: the only kind that nests or has self memory
    usage: int = 0
    children: list[_Op] = field(default_factory=list)

    @property
    def self_usage(self) -> int:
        return self.usage - sum(c.usage for c in self.children) if self.sync else 0


def self_memory(events: Iterable[Any], cpu_types: Sequence[Any], cpu: Any) -> list[int]:
    """Each op's self CPU memory in the order `profile.events()` sorted by start gives, the
    zeros left out: the allocations (+) and frees (-) the probe sums. `events`: kineto
    events (name, start_ns, end_ns, nbytes, device_type, thread and async accessors)."""
    events = list(events)
    records = sorted(((e.start_ns(), i, e) for i, e in enumerate(events) if e.name() == MEMORY),
                     key=lambda r: (r[0], r[1]))
    times = [r[0] for r in records]
    taken = [False] * len(records)
    ops: list[_Op] = []
    for e in events:
        if e.name() in LEFT_OUT or getattr(e, "is_hidden_event", lambda: False)():
            continue
        start, end = e.start_ns(), e.end_ns()
        is_cpu = e.device_type() == cpu
        is_async = e.is_async() or e.start_thread_id() != e.end_thread_id()
        op = _Op(start, end, e.start_thread_id(), is_cpu and not is_async)
        if is_cpu:
            for j in range(bisect.bisect_left(times, start), bisect.bisect_right(times, end)):
                record = records[j][2]
                op.usage += record.nbytes() if record.device_type() in cpu_types else 0
                taken[j] = True
        ops.append(op)
    _nest([op for op in ops if op.sync])
    standalone = [_Op(t, t, 0, True, r.nbytes() if r.device_type() in cpu_types else 0)
                  for (t, _, r), used in zip(records, taken, strict=True) if not used]
    # events() sorts by (start, -end), stably; the probe then sorts by start, stably.
    ordered = sorted(ops + standalone, key=lambda op: (op.start, -op.end))
    return [u for op in ordered if (u := op.self_usage)]


def _nest(ops: list[_Op]) -> None:
    by_thread: dict[int, list[_Op]] = {}
    for op in ops:
        by_thread.setdefault(op.thread, []).append(op)
    for thread_ops in by_thread.values():
        stack: list[_Op] = []
        for op in sorted(thread_ops, key=lambda o: (o.start, -o.end)):
            while stack:
                parent = stack[-1]
                if op.start >= parent.end or op.end > parent.end:
                    stack.pop()
                else:
                    parent.children.append(op)
                    break
            stack.append(op)


def kineto_self_memory(profiler: Any) -> list[int]:
    """`self_memory` of a finished torch.profiler.profile."""
    from torch._C._autograd import DeviceType

    result = profiler.profiler.kineto_results
    cpu_types = (DeviceType.CPU, DeviceType.MKLDNN, DeviceType.IDEEP)
    return self_memory(result.events(), cpu_types, DeviceType.CPU)
