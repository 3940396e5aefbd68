"""Added time per OpenAI call from instrumentation, against the loopback fake model server.

Modes: uninstrumented, ours (``ashr_labs_instrumentation``), OpenLLMetry's
``opentelemetry-instrumentation-openai`` and contrib's ``opentelemetry-instrumentation-openai-v2``.
Each measurement runs in its own child process (the instrumentors patch the same classes), and
rounds interleave the modes so machine noise hits them alike. Every mode exports through a
``BatchSpanProcessor`` into an exporter that drops spans: what is timed is the caller's thread.

    python benchmarks/bench_instrumentation.py [--calls 200] [--rounds 3] [--peer-python PY]

``--peer-python`` names an interpreter where the peer packages import (they may need a separate
venv); the peers' added time is then taken against an uninstrumented run in that interpreter
(``none-peer``). A mode that cannot be imported is reported as such, with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODES = ("none", "ashr", "openllmetry", "contrib")
KINDS = ("chat", "stream")


def _instrument(mode: str, provider: Any) -> None:
    if mode == "ashr":
        from ashr_labs_instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
    elif mode == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as Llmetry

        Llmetry().instrument(tracer_provider=provider)
    elif mode == "contrib":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as Contrib

        Contrib().instrument(tracer_provider=provider)


def child(mode: str, kind: str, calls: int) -> dict[str, Any]:
    """Time ``calls`` calls of one kind in this process; return per-call microseconds."""
    sys.path[:0] = [str(ROOT), str(ROOT / "src"), str(ROOT / "instrumentation")]
    import openai
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from tests.support.fake_llm import FakeLLM

    class Drop(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    _instrument(mode, provider)
    messages = [{"role": "user", "content": "hello there"}]
    with FakeLLM() as fake:
        client = openai.OpenAI(base_url=fake.url + "/v1", api_key="test", max_retries=0)

        def once() -> None:
            if kind == "chat":
                client.chat.completions.create(model="m", messages=messages)
            else:
                for _ in client.chat.completions.create(model="m", messages=messages, stream=True):
                    pass

        for _ in range(max(10, calls // 10)):
            once()
        samples = []
        for _ in range(calls):
            start = time.perf_counter()
            once()
            samples.append((time.perf_counter() - start) * 1e6)
    provider.shutdown()
    return {"median_us": statistics.median(samples), "p90_us": sorted(samples)[int(calls * 0.9)]}


def _run_child(python: str, mode: str, kind: str, calls: int) -> dict[str, Any]:
    done = subprocess.run(
        [python, __file__, "--child", mode, kind, str(calls)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "instrumentation")]),
        },
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": last}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--peer-python", default=sys.executable)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "KIND", "CALLS"))
    args = parser.parse_args()
    if args.child:
        mode, kind, calls = args.child
        print(json.dumps(child(mode, kind, int(calls))))
        return
    peer = args.peer_python
    # The peers are measured against an uninstrumented run in their own interpreter.
    runs = {
        "none": (sys.executable, "none"),
        "ashr": (sys.executable, "ashr"),
        "none-peer": (peer, "none"),
        "openllmetry": (peer, "openllmetry"),
        "contrib": (peer, "contrib"),
    }
    if peer == sys.executable:
        del runs["none-peer"]
    baseline_of = {
        name: "none-peer" if python != sys.executable else "none"
        for name, (python, _) in runs.items()
    }
    results: dict[tuple[str, str], list[float]] = {}
    errors: dict[str, str] = {}
    for _ in range(args.rounds):
        for kind in KINDS:
            for name, (python, mode) in runs.items():
                if name in errors:
                    continue
                out = _run_child(python, mode, kind, args.calls)
                if "error" in out:
                    errors[name] = out["error"]
                    continue
                results.setdefault((name, kind), []).append(out["median_us"])
    print(f"calls per child: {args.calls}, rounds: {args.rounds} (medians of per-call medians)")
    for kind in KINDS:
        added: dict[str, float] = {}
        print(f"\n{kind}:")
        for name in runs:
            if name in errors:
                print(f"  {name:12s} not measured: {errors[name]}")
                continue
            value = statistics.median(results[(name, kind)])
            if name.startswith("none"):
                print(f"  {name:12s} {value:,.0f} us per call (uninstrumented)")
                continue
            base = statistics.median(results[(baseline_of[name], kind)])
            added[name] = value - base
            print(
                f"  {name:12s} {value:,.0f} us  added {value - base:+,.0f} us  "
                f"({value / base:.2f}x uninstrumented)"
            )
        for peer_name in ("openllmetry", "contrib"):
            if "ashr" in added and added.get(peer_name, 0) > 0:
                print(f"  added time, ours / {peer_name}: {added['ashr'] / added[peer_name]:.2f}")


if __name__ == "__main__":
    main()
