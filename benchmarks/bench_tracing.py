"""Tracing cost on the application thread, memory with the backend down, and exit time.

1. Per-trace app-thread cost of one trace (root + 5 observations: 3 spans, 1 generation with
   usage, 1 event), ours vs the raw OTel SDK making the same spans with the same attributes
   through a ``BatchSpanProcessor`` + the stock OTLP/HTTP exporter. Three backends: fast (a
   local Ashr server; OTLP to its ``/v1/traces``), slow (every reply after 50 ms), down (a
   closed port). Rounds are interleaved; the median per-trace time and the ratio are printed.
2. Memory growth (tracemalloc, after GC) over 50,000 traces with the backend down.
3. Exit time of a child that ends 20 traces against a blackhole, flush budget 1 s.

Run: ``python benchmarks/bench_tracing.py [--traces 2000] [--rounds 5] [--memory-traces 50000]``.
Not part of ``pytest tests``; numbers depend on the machine (2 shared cores here).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: E402

from ashr_labs import AshrLabsClient  # noqa: E402
from ashr_labs.server import LocalServer  # noqa: E402
from tests.support.scripted_backend import ScriptedBackend, Step, blackhole, closed_port  # noqa: E402

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


def per_trace_us(fn: Callable[[], None], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        fn()
    return (time.perf_counter() - started) / count * 1e6


def bench_backend(
    label: str, rpc_url: str, otlp_url: str, api_key: str, traces: int, rounds: int
) -> tuple[float, float]:
    client = AshrLabsClient(
        api_key=api_key, base_url=rpc_url, flush_timeout_s=2.0, export_timeout_s=1.0
    )
    provider = TracerProvider(shutdown_on_exit=False)
    exporter = OTLPSpanExporter(
        endpoint=otlp_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=1
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    ours: list[float] = []
    raw: list[float] = []
    for _ in range(rounds):
        ours.append(per_trace_us(lambda: ours_one_trace(client), traces))
        raw.append(per_trace_us(lambda: raw_one_trace(tracer), traces))
    report = client.flush(2.0)
    client.close()
    provider.shutdown()
    o, r = statistics.median(ours), statistics.median(raw)
    print(
        f"  {label:<6} ours {o:7.1f} us/trace   raw OTel {r:7.1f} us/trace   ratio {o / r:4.2f}"
        f"   (ours sent {report['sent']}, failed {report['failed']}, dropped {report['dropped']})"
    )
    return o, r


def bench_memory(count: int) -> None:
    client = AshrLabsClient(
        api_key="tp_benchbenchbench",
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
            client = AshrLabsClient(api_key="tp_benchbenchbench", base_url={hole.url!r},
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-traces", type=int, default=50_000)
    args = parser.parse_args()
    print(f"per-trace app-thread cost (1 root + 5 observations), {args.rounds} x {args.traces}:")
    with LocalServer(data_dir=tempfile.mkdtemp()) as server:
        bench_backend(
            "fast", server.url, server.url + "/v1/traces", server.api_key, args.traces, args.rounds
        )
    with ScriptedBackend(default=Step(delay=0.05)) as slow:
        bench_backend(
            "slow",
            slow.url,
            slow.url + "/v1/traces",
            "tp_benchbenchbench",
            args.traces,
            args.rounds,
        )
    down = f"http://127.0.0.1:{closed_port()}"
    bench_backend("down", down, down + "/v1/traces", "tp_benchbenchbench", args.traces, args.rounds)
    bench_memory(args.memory_traces)
    bench_exit()


if __name__ == "__main__":
    main()
