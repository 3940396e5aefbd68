"""Tracing cost on the application thread, memory with the backend down, and exit time.

1. Per-trace cost of one trace (root + 5 observations: 3 spans, 1 generation with usage,
   1 event) on the thread that makes it, ours vs the raw OTel SDK making the same spans with the
   same attributes through a ``BatchSpanProcessor`` + the stock OTLP/HTTP exporter. Three
   backends, each in its own process so its CPU does not take the measured GIL: fast (a local
   Ashr server; OTLP to its ``/v1/traces``), slow (every reply after 50 ms), down (a closed
   port). Each (backend, pipeline) pair runs in its own process too, so no pair's export worker
   shares a GIL with another's measurement; the parent runs one block at a time, round after
   round, and after each block the pair settles (ours flushes for up to 2 s, raw OTel flushes
   against the fast backend) so one block's backlog does not land in the next. Per trace: wall
   time (what the caller waits, including its own workers' share of the GIL), the calling
   thread's CPU time, and the rest of the process's CPU (its export workers).
   Targets (issue 4): fast ours <= 1.2x raw OTel; slow and down <= 1.1x ours fast.
2. Memory growth (tracemalloc, after GC) over 50,000 traces with the backend down.
3. Exit time of a child that ends 20 traces against a blackhole, flush budget 1 s.

Run: ``python benchmarks/bench_tracing.py [--traces 2000] [--rounds 5] [--memory-traces 50000]``.
Not part of ``pytest tests``; numbers depend on the machine (2 shared cores here).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402

from ashr_labs import AshrLabsClient  # noqa: E402
from tests.support.scripted_backend import blackhole, closed_port  # noqa: E402

BENCH_KEY = "tp_benchbenchbench"
MESSAGES = [{"role": "user", "content": "Where is my order 1234?"}]


def ours_one_trace(client: AshrLabsClient) -> None:
    with client.trace("handle-ticket", user_id="u1", session_id="s1", tags=["bench"]) as trace:
        with trace.span("retrieve", input={"query": "order 1234"}) as span:
            span.end(output={"docs": 3})
        with trace.generation("answer", model="gpt-4o-mini", input=MESSAGES) as gen:
            gen.end(output="It ships today.", usage={"input_tokens": 50, "output_tokens": 12})
        with trace.span("tool:lookup", input={"id": 1234}) as tool:
            tool.end(output={"status": "shipped"})
        with trace.span("guardrail") as guard:
            guard.end(output={"passed": True})
        trace.event("done", input={"ok": True})


def raw_one_trace(tracer: Any) -> None:
    dumps = json.dumps
    with tracer.start_as_current_span(
        "handle-ticket",
        attributes={
            "ashr.observation.type": "trace",
            "ashr.trace.user_id": "u1",
            "ashr.trace.session_id": "s1",
            "ashr.trace.tags": ["bench"],
        },
    ) as root:
        with tracer.start_as_current_span(
            "retrieve",
            attributes={
                "ashr.observation.type": "span",
                "ashr.observation.input": dumps({"query": "order 1234"}),
            },
        ) as span:
            span.set_attribute("ashr.observation.output", dumps({"docs": 3}))
        with tracer.start_as_current_span(
            "answer",
            attributes={
                "ashr.observation.type": "generation",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.operation.name": "chat",
                "ashr.observation.input": dumps(MESSAGES),
            },
        ) as gen:
            gen.set_attribute("ashr.observation.output", dumps("It ships today."))
            gen.set_attribute(
                "ashr.observation.usage", dumps({"input_tokens": 50, "output_tokens": 12})
            )
            gen.set_attribute("gen_ai.usage.input_tokens", 50)
            gen.set_attribute("gen_ai.usage.output_tokens", 12)
        with tracer.start_as_current_span(
            "tool:lookup",
            attributes={
                "ashr.observation.type": "span",
                "ashr.observation.input": dumps({"id": 1234}),
            },
        ) as tool:
            tool.set_attribute("ashr.observation.output", dumps({"status": "shipped"}))
        with tracer.start_as_current_span(
            "guardrail", attributes={"ashr.observation.type": "span"}
        ) as guard:
            guard.set_attribute("ashr.observation.output", dumps({"passed": True}))
        root.add_event("done", {"ashr.observation.input": dumps({"ok": True})})


_BACKEND = """
import sys, tempfile
from ashr_labs.server import LocalServer
from tests.support.scripted_backend import ScriptedBackend, Step
if sys.argv[1] == "fast":
    server = LocalServer(data_dir=tempfile.mkdtemp())
else:
    server = ScriptedBackend(default=Step(delay=0.05))
with server:
    key = getattr(server, "api_key", {key!r})
    print(server.url, key, flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def backend_process(kind: str) -> Iterator[tuple[str, str]]:
    """A ``fast`` (local Ashr server) or ``slow`` (50 ms replies) backend in its own process."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _BACKEND.format(key=BENCH_KEY), kind],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        url, key = proc.stdout.readline().split()
        yield url, key
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def ours_client(url: str, key: str) -> AshrLabsClient:
    return AshrLabsClient(api_key=key, base_url=url, flush_timeout_s=2.0, export_timeout_s=1.0)


def raw_provider(url: str, key: str) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False)
    exporter = OTLPSpanExporter(
        endpoint=url + "/v1/traces", headers={"Authorization": f"Bearer {key}"}, timeout=1
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def serve_subject(backend: str, pipeline: str, url: str, key: str) -> None:
    """Child side: one (backend, pipeline) pair; ``run N`` measures a block of N traces and
    prints its per-trace numbers; ``stop`` prints ours' flush report and ends."""
    if pipeline == "ours":
        client = ours_client(url, key)
        run: Callable[[], None] = lambda: ours_one_trace(client)  # noqa: E731
        settle: Callable[[], Any] = lambda: client.flush(2.0)  # noqa: E731
    else:
        provider = raw_provider(url, key)
        tracer = provider.get_tracer("bench")
        run = lambda: raw_one_trace(tracer)  # noqa: E731
        settle = provider.force_flush if backend == "fast" else (lambda: None)
    for _ in range(50):
        run()
    settle()
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "stop":
            report = client.flush(0.5) if pipeline == "ours" else {}
            print(json.dumps(report), flush=True)
            os._exit(0)  # the raw pipeline would retry a dead backend for seconds at exit
        count = int(arg)
        gc.collect()
        wall, cpu, process = time.perf_counter(), time.thread_time(), time.process_time()
        for _ in range(count):
            run()
        cpu = time.thread_time() - cpu
        process = time.process_time() - process
        wall = time.perf_counter() - wall
        settle()
        sample = {"wall": wall, "cpu": cpu, "workers": process - cpu}
        print(json.dumps({k: v / count * 1e6 for k, v in sample.items()}), flush=True)


@dataclass
class Subject:
    """Parent side: a child process serving one (backend, pipeline) pair, and its samples."""

    backend: str
    pipeline: str
    proc: subprocess.Popen[str]
    samples: list[dict[str, float]] = field(default_factory=list)

    def measure(self, count: int) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"run {count}\n")
        self.proc.stdin.flush()
        self.samples.append(json.loads(self.proc.stdout.readline()))

    def stop(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        report: dict[str, Any] = json.loads(self.proc.stdout.readline())
        self.proc.wait(timeout=10)
        return report

    def median(self, what: str) -> float:
        return float(statistics.median(sample[what] for sample in self.samples))


def start_subject(backend: str, pipeline: str, url: str, key: str) -> Subject:
    argv = [sys.executable, __file__, "--subject", f"{backend}:{pipeline}:{url}:{key}"]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the raw OTLP exporter logs every failed batch
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    return Subject(backend, pipeline, proc)


def bench_app_thread(traces: int, rounds: int) -> None:
    """Six (backend, pipeline) pairs, each in its own process, measured one block at a time."""
    with backend_process("fast") as fast, backend_process("slow") as slow:
        down = (f"http://127.0.0.1:{closed_port()}", BENCH_KEY)
        where = dict(zip(_NAMES, (fast, slow, down), strict=True))
        subjects = [
            start_subject(name, pipeline, *where[name])
            for name in _NAMES
            for pipeline in ("ours", "raw")
        ]
        for _ in range(rounds):
            for subject in subjects:
                subject.measure(traces)
        reports = {s.backend: s.stop() for s in subjects if s.pipeline == "ours"}
        for subject in subjects:
            if subject.pipeline == "raw":
                subject.stop()
    _print_app_thread(subjects, reports, traces, rounds)


_NAMES = ("fast", "slow", "down")


def _verdict(ratio: float, target: float) -> str:
    return "met" if ratio <= target else "NOT met"


def _print_app_thread(
    subjects: list[Subject], reports: dict[str, dict[str, Any]], traces: int, rounds: int
) -> None:
    by = {(s.backend, s.pipeline): s for s in subjects}
    print(
        f"per-trace cost on the calling thread (1 root + 5 observations), median of {rounds} "
        f"rounds x {traces} traces, microseconds (workers CPU: the rest of that process):"
    )
    print(f"  {'backend':<8}{'pipeline':<10}{'wall':>8}{'app CPU':>10}{'workers CPU':>13}")
    for subject in subjects:
        print(
            f"  {subject.backend:<8}{subject.pipeline:<10}{subject.median('wall'):>8.0f}"
            f"{subject.median('cpu'):>10.0f}{subject.median('workers'):>13.0f}"
        )
    ours_fast, raw_fast = by[("fast", "ours")], by[("fast", "raw")]
    lines = [
        ("fast: ours / raw OTel, wall", ours_fast.median("wall") / raw_fast.median("wall"), 1.2),
        (
            "fast: ours / raw OTel, app-thread CPU",
            ours_fast.median("cpu") / raw_fast.median("cpu"),
            1.2,
        ),
        (
            "slow: ours slow / ours fast, wall",
            by[("slow", "ours")].median("wall") / ours_fast.median("wall"),
            1.1,
        ),
        (
            "down: ours down / ours fast, wall",
            by[("down", "ours")].median("wall") / ours_fast.median("wall"),
            1.1,
        ),
    ]
    print("  ratios:")
    for label, ratio, target in lines:
        print(f"    {label:<40}{ratio:5.2f}  (target <= {target}: {_verdict(ratio, target)})")
    for name, report in reports.items():
        print(
            f"  ours {name}: sent {report['sent']}, failed {report['failed']}, "
            f"dropped {report['dropped']} spans {report['reasons']}"
        )


def bench_memory(count: int) -> None:
    client = AshrLabsClient(
        api_key=BENCH_KEY,
        base_url=f"http://127.0.0.1:{closed_port()}",
        export_timeout_s=0.2,
        flush_timeout_s=1.0,
    )
    for _ in range(200):
        ours_one_trace(client)
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    peak_growth = 0
    for i in range(count):
        ours_one_trace(client)
        if i % 5000 == 4999:
            gc.collect()
            now, _ = tracemalloc.get_traced_memory()
            peak_growth = max(peak_growth, now - base)
    gc.collect()
    end, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    report = client.flush(1.0)
    client.close()
    print(
        f"  memory: {count} traces with the backend down: growth {(end - base) / 2**20:.1f} MiB "
        f"(max seen {peak_growth / 2**20:.1f} MiB); dropped {report['dropped']} spans, "
        f"failed {report['failed']} traces"
    )


def bench_exit() -> None:
    with blackhole() as hole:
        code = textwrap.dedent(f"""
            from ashr_labs import AshrLabsClient
            client = AshrLabsClient(api_key={BENCH_KEY!r}, base_url={hole.url!r},
                                    flush_timeout_s=1.0, export_timeout_s=0.5)
            for i in range(20):
                client.trace(f"t{{i}}").end()
            print("returning", flush=True)
        """)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        proc.stdout.readline()
        started = time.monotonic()
        _, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - started
    print(
        f"  exit with a blackholed backend, flush budget 1.0 s: {elapsed:.2f} s "
        f"(target <= 2.0 s); stderr: {err.strip()!r}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--traces", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-traces", type=int, default=50_000)
    parser.add_argument("--subject", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.subject:
        backend, pipeline, url = args.subject.split(":", 2)
        url, _, key = url.rpartition(":")
        serve_subject(backend, pipeline, url, key)
        return
    bench_app_thread(args.traces, args.rounds)
    bench_memory(args.memory_traces)
    bench_exit()


if __name__ == "__main__":
    main()
