"""Local server trace-ingest throughput: traces/s from several exporting processes.

Starts one ``LocalServer`` (temporary SQLite database) in this process, then ``--processes``
worker processes each send ``--traces`` traces of 6 observations (1 generation, 4 spans, 1 event)
as fast as the server answers, over loopback:

- ``rpc``: ``ingest_observability_trace`` JSON bodies on a keep-alive ``requests.Session`` (the
  call our exporter makes);
- ``otlp``: the stock ``OTLPSpanExporter`` (protobuf over ``/v1/traces``), one export per trace
  (7 spans: the Ashr root plus 6 children, one being a span event).

Run: ``python benchmarks/bench_ingest.py [--processes 4] [--traces 300] [--mode both]``.
Not part of ``pytest tests``; numbers depend on the machine (2 shared cores here).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import tempfile
import time
import uuid
from typing import Any

OBSERVATIONS_PER_TRACE = 6


def _rpc_trace(index: int) -> dict[str, Any]:
    def obs(kind: str, name: str, parent: str | None = None, **extra: Any) -> dict[str, Any]:
        item = {
            "id": uuid.uuid4().hex[:16],
            "type": kind,
            "name": name,
            "parent_observation_id": parent,
            "start_time": "2026-01-01T00:00:00.000000Z",
            "input": {"q": f"question {index}"},
            "metadata": {"i": index},
            "level": None,
            **extra,
        }
        if kind != "event":
            item["end_time"] = "2026-01-01T00:00:00.250000Z"
        return item

    gen = obs(
        "generation",
        "plan",
        model="gpt-4o",
        output={"text": "ok"},
        usage={"input_tokens": 120, "output_tokens": 30},
    )
    children = [obs("span", f"tool:t{n}", gen["id"], output={"n": n}) for n in range(3)]
    return {
        "id": uuid.uuid4().hex,
        "name": "bench",
        "user_id": f"u{index % 17}",
        "session_id": f"s{index % 5}",
        "metadata": None,
        "tags": ["bench"],
        "observations": [gen, *children, obs("span", "final"), obs("event", "done")],
        "output": {"answer": index},
    }


def _rpc_worker(url: str, key: str, count: int, ready: Any, start: Any, done: Any) -> None:
    import requests

    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {key}"})
    bodies = [
        json.dumps({"function": "ingest_observability_trace", "trace": _rpc_trace(i)})
        for i in range(count)
    ]
    ready.put(1)
    start.wait()
    for body in bodies:
        response = session.post(url, data=body, timeout=30)
        response.raise_for_status()
    done.put(count)


def _otlp_worker(url: str, key: str, count: int, ready: Any, start: Any, done: Any) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("ashr_labs")
    batches = []
    for i in range(count):
        with tracer.start_as_current_span(
            "bench", attributes={"ashr.observation.type": "trace", "ashr.trace.user_id": f"u{i}"}
        ) as root:
            with tracer.start_as_current_span(
                "plan",
                attributes={
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 120,
                    "gen_ai.usage.output_tokens": 30,
                },
            ):
                for n in range(3):
                    with tracer.start_as_current_span(f"tool:t{n}"):
                        pass
            with tracer.start_as_current_span("final"):
                pass
            root.add_event("done")
        batches.append(memory.get_finished_spans())
        memory.clear()
    exporter = OTLPSpanExporter(
        endpoint=url + "/v1/traces", headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    ready.put(1)
    start.wait()
    for spans in batches:
        if exporter.export(spans) is not SpanExportResult.SUCCESS:
            raise RuntimeError("OTLP export failed")
    exporter.shutdown()  # type: ignore[no-untyped-call]
    done.put(count)


def run(mode: str, processes: int, traces: int) -> float:
    from ashr_labs.server import LocalServer

    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as data_dir, LocalServer(data_dir=data_dir) as server:
        ready, start, done = ctx.Queue(), ctx.Event(), ctx.Queue()
        target = _rpc_worker if mode == "rpc" else _otlp_worker
        workers = [
            ctx.Process(
                target=target, args=(server.url, server.api_key, traces, ready, start, done)
            )
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        for _ in workers:  # every worker has imported and built its payloads
            ready.get(timeout=120)
        began = time.perf_counter()
        start.set()
        sent = sum(int(done.get(timeout=600)) for _ in workers)
        elapsed = time.perf_counter() - began
        for worker in workers:
            worker.join(timeout=30)
        stored = server.db.query_one("SELECT COUNT(*) AS n FROM obs_traces")
        assert stored is not None and stored["n"] == sent, (dict(stored or {}), sent)
    rate = sent / elapsed
    print(
        f"{mode}: {sent} traces ({sent * OBSERVATIONS_PER_TRACE} observations) from "
        f"{processes} processes in {elapsed:.2f} s = {rate:.0f} traces/s"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--traces", type=int, default=300, help="traces per process")
    parser.add_argument("--mode", choices=("rpc", "otlp", "both"), default="both")
    args = parser.parse_args()
    for mode in ("rpc", "otlp") if args.mode == "both" else (args.mode,):
        run(mode, args.processes, args.traces)


if __name__ == "__main__":
    main()
