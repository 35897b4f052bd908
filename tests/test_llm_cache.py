"""The sample cache: failed completions are never stored, the key holds every option that changes a
sample, and the first sample stored for a key wins.

The backends here are the scripted LLM of test_llm_fakes (canned text, no model), the OpenAI backend
over a scripted transport, and vLLM's backend over a stand-in `vllm` module written below (vLLM has
no build for these machines); the real llama.cpp engine runs in the tests marked `model`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_llm_fakes import ScriptedLLM

from multiplt import compilers
from multiplt.funnel import Funnel
from multiplt.llm import Completion, LLMError, Sampling, cached_generate, get_llm
from multiplt.llm import models as models_mod
from multiplt.llm.base import cache_id, identity
from multiplt.llm.openai import OpenAILLM
from multiplt.store import WorkStore
from multiplt.translate import Ask, clean_samples

TESTS = Path(__file__).resolve().parent


def echo(prompt: str, seed: int) -> str:
    return f"{prompt}#{seed}"


class Failing(ScriptedLLM):
    """Scripted, except that prompts starting with "long" or "err" get failed completions, the way
    llama.cpp answers a prompt longer than its context and a backend reports an error."""

    def generate(self, prompts, sampling):
        out = super().generate(prompts, sampling)
        for row, p in zip(out, prompts, strict=True):
            for j, c in enumerate(row):
                if p.startswith("long"):
                    row[j] = Completion("", 0, "prompt too long", 5000)
                elif p.startswith("err"):
                    row[j] = Completion("", 0, "error")
                else:
                    row[j] = c
        return out


# --- item 3: a failed completion is never stored ---------------------------------------------------


def test_failed_completions_are_returned_and_counted_but_never_stored(tmp_path):
    store = WorkStore(tmp_path / "s.sqlite")
    llm = Failing(echo)
    s = Sampling(n=2)
    out = cached_generate(store, llm, ["ok", "long prompt", "err"], s, stage="t")
    assert [c.text for c in out[0]] == ["ok#0", "ok#1"]
    assert [c.finish_reason for c in out[1]] == ["prompt too long"] * 2 and out[1][0].failed
    assert out[2][0].failed and not out[0][0].failed
    assert store.count("llm") == 2  # only the real samples
    c = store.counters()
    assert c["llm.samples"] == 2 and c["llm.failed"] == 4 and c["llm.t.failed"] == 4
    again = ScriptedLLM(echo)  # the next run asks again for what failed, and only for that
    out = cached_generate(store, again, ["ok", "long prompt", "err"], s, stage="t")
    assert [p for p, _ in again.calls] == [["long prompt", "err"]]
    assert [c.text for c in out[1]] == ["long prompt#0", "long prompt#1"]
    assert store.count("llm") == 6 == store.counters()["llm.samples"]


def test_a_streamed_failed_sample_is_not_stored(tmp_path):
    store = WorkStore(tmp_path / "s.sqlite")

    class Streaming(ScriptedLLM):
        streams_samples = True

        def generate(self, prompts, sampling, on_sample=None):
            out = []
            for pi, p in enumerate(prompts):
                row = []
                for j in range(sampling.n):
                    c = Completion("", 0, "abort") if j == 1 else Completion(echo(p, sampling.seed + j), 3)
                    on_sample(pi, j, c)
                    row.append(c)
                out.append(row)
            return out

    out = cached_generate(store, Streaming(echo), ["a"], Sampling(n=3))
    assert [c.failed for c in out[0]] == [False, True, False]
    assert store.count("llm") == 2 and store.counters()["llm.failed"] == 1
    assert store.counters()["llm.calls"] == 1


def test_translate_counts_a_failed_sample_as_a_model_failure():
    funnel = Funnel()
    job = SimpleNamespace(asks=(Ask(""),), unit=None, tested=SimpleNamespace(id="f"))
    samples = [Completion("", 0, "prompt too long"), Completion("", 0, "error")]
    assert clean_samples(job, compilers.get("lua"), samples, 0, funnel).candidates == []
    stage = funnel.stage("translate/lua")
    assert stage.seen == 2 and stage.balanced
    assert dict(stage.drops) == {"model failed (prompt too long)": 1, "model failed (error)": 1}


def test_translate_tells_a_sample_cut_off_by_the_budget_from_one_that_does_not_parse():
    """A cut-off sample whose function is already whole is judged like any other; one cut mid-body is
    counted as the budget's drop, not as text the model got wrong."""
    funnel = Funnel()
    job = SimpleNamespace(asks=(Ask("local function f(x)\n"),), unit=None, tested=SimpleNamespace(id="f"))
    samples = [
        Completion("  return x\nend\n\nprint(f(1", 9, "length"),  # whole function, then cut
        Completion("  local t = {}\n  for i = 1, x do\n    t[i", 12, "length"),  # cut mid-body
        Completion("  return x +\n", 3, "stop"),  # finished, and not Lua
    ]
    cleaned = clean_samples(job, compilers.get("lua"), samples, 0, funnel)
    assert [c.sample_index for c in cleaned.candidates] == [0] and cleaned.cut_off == 1
    assert dict(funnel.stage("translate/lua").drops) == {
        "cut off at the token budget": 1,
        "does not parse as a function": 1,
    }


def test_a_unit_broken_before_the_cut_is_the_models_mistake_not_the_budgets():
    """The model wrote Python's `yield` into a Lua helper, then ran on until the budget stopped it:
    the budget did not cause that. A unit cut inside its last definition, all else whole, it did."""
    funnel = Funnel()
    unit = ("helper", "f")
    job = SimpleNamespace(
        asks=(Ask("local function helper(x)\n", "helpers-first"),), unit=unit, tested=SimpleNamespace(id="f")
    )
    broken = "  yield x\nend\n\nlocal function f(x)\n  return helper(x)\nend\n\nmodule:inject({f = f,"
    cut = "  return x + 1\nend\n\nlocal function f(x)\n  local y = helper(x)\n  if y >"
    lua = compilers.get("lua")
    cleaned = clean_samples(
        job, lua, [Completion(broken, 20, "length"), Completion(cut, 20, "length")], 0, funnel
    )
    assert cleaned.candidates == [] and cleaned.cut_off == 1
    assert dict(funnel.stage("translate/lua").drops) == {
        "does not parse as a function": 1,
        "cut off at the token budget": 1,
    }


def _context_transport(url, body, headers, timeout):
    """Answers like `vllm serve` does: a 400 for a prompt over the context, choices for the rest."""
    if body["prompt"].startswith("long"):
        msg = "This model's maximum context length is 2048 tokens. However, you requested 9000 tokens."
        return 400, {}, json.dumps({"object": "error", "message": msg}).encode()
    choices = [{"index": i, "text": "t", "finish_reason": "stop"} for i in range(body["n"])]
    return 200, {}, json.dumps({"choices": choices}).encode()


def test_openai_prompt_over_the_context_fails_that_prompt_only_and_is_not_stored(tmp_path):
    store = WorkStore(tmp_path / "s.sqlite")
    llm = OpenAILLM("m", base_url="http://x/v1", transport=_context_transport, backoff_s=0.0)
    out = cached_generate(store, llm, ["long one", "short"], Sampling(n=2))
    assert [c.finish_reason for c in out[0]] == ["prompt too long"] * 2
    assert [c.text for c in out[1]] == ["t", "t"]
    assert store.count("llm") == 2 and store.counters()["llm.failed"] == 2
    # Any other refusal (a parameter the server does not take) still fails the call at once.
    bad = OpenAILLM("m", transport=lambda *a: (400, {}, b'{"message": "n must be 1"}'), backoff_s=0.0)
    with pytest.raises(LLMError, match="HTTP 400"):
        bad.generate(["p"], Sampling(n=2))


def _install_stand_in_vllm(monkeypatch, max_model_len: int = 8, dtype: str = "torch.bfloat16") -> dict:
    """A stand-in `vllm` module: a tokenizer of one token per word, an engine that echoes, and the
    model_config a real engine exposes after resolving its options. Not vLLM."""
    seen: dict = {"batches": []}

    class Tokenizer:
        def encode(self, text):
            return text.split()

    class Engine:
        def __init__(self, model, **options):
            seen["options"] = options
            config = SimpleNamespace(
                dtype=dtype,
                quantization=options.get("quantization"),
                revision=options.get("revision"),
                tokenizer=model,
                tokenizer_revision=None,
                max_model_len=max_model_len,
            )
            self.llm_engine = SimpleNamespace(
                model_config=config, cache_config=SimpleNamespace(cache_dtype="auto")
            )

        def get_tokenizer(self):
            return Tokenizer()

        def generate(self, prompts, params, use_tqdm=False):
            seen["batches"].append(list(prompts))

            def outputs(prompt):
                return [
                    SimpleNamespace(index=i, text=f"{prompt}!", token_ids=[1], finish_reason="stop")
                    for i in range(params.n)
                ]

            return [SimpleNamespace(prompt_token_ids=p.split(), outputs=outputs(p)) for p in prompts]

    module = types.ModuleType("vllm")
    module.LLM = Engine
    module.SamplingParams = lambda **kw: SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, "vllm", module)
    return seen


def test_vllm_refuses_only_the_prompt_over_max_model_len(monkeypatch, tmp_path):
    seen = _install_stand_in_vllm(monkeypatch, max_model_len=8)
    llm = get_llm("vllm", model="m")
    store = WorkStore(tmp_path / "s.sqlite")
    long = " ".join(["w"] * 8)
    out = cached_generate(store, llm, ["a b", long], Sampling(n=2))
    assert seen["batches"] == [["a b"]]  # the long prompt never reached the engine, which would refuse all
    assert [c.finish_reason for c in out[1]] == ["prompt too long"] * 2
    assert [c.text for c in out[0]] == ["a b!", "a b!"]
    assert store.count("llm") == 2


# --- item 4: the key is complete ------------------------------------------------------------------


def test_vllm_cache_identity_holds_dtype_quantization_revision(monkeypatch):
    _install_stand_in_vllm(monkeypatch)
    a = get_llm("vllm", model="m")
    assert a.cache_id == get_llm("vllm", model="m").cache_id  # identical settings, identical key
    assert a.model_id == "vllm:m" and '"dtype": "bfloat16"' in a.cache_id  # as the engine resolved it
    assert get_llm("vllm", model="m", quantization="awq").cache_id != a.cache_id
    assert get_llm("vllm", model="m", revision="abc123").cache_id != a.cache_id
    _install_stand_in_vllm(monkeypatch, dtype="torch.float16")  # dtype="auto" on another GPU
    assert get_llm("vllm", model="m").cache_id != a.cache_id
    _install_stand_in_vllm(monkeypatch, max_model_len=4096)
    assert get_llm("vllm", model="m").cache_id != a.cache_id


def test_openai_cache_identity_holds_model_and_base_url(tmp_path):
    def backend(model, url):
        return OpenAILLM(model, base_url=url, transport=_context_transport)

    a = backend("m", "http://one/v1")
    assert cache_id(a) == cache_id(backend("m", "http://one/v1/"))
    assert cache_id(a) != cache_id(backend("m", "http://two/v1"))
    assert cache_id(a) != cache_id(backend("m2", "http://one/v1"))
    store = WorkStore(tmp_path / "s.sqlite")
    cached_generate(store, a, ["short"], Sampling(n=1))
    other = backend("m", "http://two/v1")
    cached_generate(store, other, ["short"], Sampling(n=1))
    assert store.counters()["llm.calls"] == 2  # the other server's model is asked, not served a's sample


def test_backends_with_one_model_id_but_other_options_share_no_samples(tmp_path):
    store = WorkStore(tmp_path / "s.sqlite")
    a, b = ScriptedLLM(echo, model_id="m"), ScriptedLLM(lambda p, s: "other", model_id="m")
    a.cache_id = identity("m", {"n_ctx": 2048, "top_k": 0})
    b.cache_id = identity("m", {"n_ctx": 4096, "top_k": 0})
    cached_generate(store, a, ["p"], Sampling(n=1))
    assert cached_generate(store, b, ["p"], Sampling(n=1))[0][0].text == "other"
    assert identity("m", {}) == "m"  # a backend with no keyed option keeps its old keys


def test_replay_stands_in_for_a_backend_by_its_full_identity(tmp_path):
    store = WorkStore(tmp_path / "s.sqlite")
    a = ScriptedLLM(echo, model_id="m")
    a.cache_id = identity("m", {"sha256": "abc", "n_ctx": 2048})
    cached_generate(store, a, ["p"], Sampling(n=2))
    replay = get_llm("replay", store=store)
    assert replay.model_id == "m" and replay.cache_id == a.cache_id
    assert cached_generate(store, replay, ["p"], Sampling(n=2))[0][1].text == "p#1"
    assert get_llm("replay", store=store, model_id="m").cache_id == a.cache_id


def test_the_store_lists_model_ids_through_public_methods_only(tmp_path):
    """A store stand-in with only the public methods (as the Ray executor's was) serves a replay."""
    store = WorkStore(tmp_path / "s.sqlite")
    cached_generate(store, ScriptedLLM(echo, model_id="m1"), ["a"], Sampling(n=1))

    class PublicOnly:
        def __init__(self, inner: WorkStore) -> None:
            self._inner = inner

        def __getattr__(self, name):
            if name.startswith("_"):
                raise AttributeError(name)
            return getattr(self._inner, name)

    replay = get_llm("replay", store=PublicOnly(store))
    assert replay.model_id == "m1"
    assert store.keys("llm.models") == ["m1"]


def test_model_sha256_is_hashed_once_per_file_version(tmp_path, monkeypatch):
    model = tmp_path / "own.gguf"
    model.write_bytes(b"GGUF" + b"x" * 100)
    calls = []
    real = models_mod._sha256
    monkeypatch.setattr(models_mod, "_sha256", lambda p: calls.append(p) or real(p))
    first = models_mod.model_sha256(model, cache=tmp_path / "cache")
    assert models_mod.model_sha256(model, cache=tmp_path / "cache") == first and len(calls) == 1
    model.write_bytes(b"GGUF" + b"y" * 100)  # same size, new content: the mtime tells
    os.utime(model, ns=(1, 1))
    second = models_mod.model_sha256(model, cache=tmp_path / "cache")
    assert second != first and len(calls) == 2
    # A registry model verified at assembly has its known hash: never re-read.
    spec = models_mod.MODELS["smollm2-135m"]
    known = tmp_path / "reg" / spec.filename
    known.parent.mkdir()
    with known.open("wb") as f:
        f.truncate(spec.size)
    (known.parent / f"{spec.filename}.verified").write_text(spec.sha256 + "\n")
    assert models_mod.model_sha256(known, cache=tmp_path / "cache") == spec.sha256 and len(calls) == 2


# --- item 4: the first stored sample wins, and a sample is written with its counters -------------------

_OTHER_PROCESS = """
import sys
sys.path.insert(0, {tests!r})
from test_llm_fakes import ScriptedLLM
from multiplt.llm import Sampling, cached_generate
from multiplt.store import WorkStore
cached_generate(WorkStore({path!r}), ScriptedLLM(lambda p, s: "first", model_id="m"), ["p"], Sampling(n=1))
"""


def test_two_processes_missing_one_key_both_use_the_first_stored_sample(tmp_path):
    path = tmp_path / "s.sqlite"
    store = WorkStore(path)

    class Slow(ScriptedLLM):
        """Misses the key, and while it generates another process stores the same sample."""

        def generate(self, prompts, sampling):
            code = _OTHER_PROCESS.format(tests=str(TESTS), path=str(path))
            subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
            return super().generate(prompts, sampling)

    out = cached_generate(store, Slow(lambda p, s: "second", model_id="m"), ["p"], Sampling(n=1))
    assert out[0][0].text == "first"  # the stored one, not this process's own
    assert [Completion.from_json(v).text for _, v in store.items("llm")] == ["first"]
    c = store.counters()
    assert c["llm.samples"] == 1 == store.count("llm") and c["llm.raced"] == 1 and c["llm.calls"] == 2


def test_put_new_never_replaces_and_writes_counters_in_the_same_transaction(tmp_path):
    store = WorkStore(tmp_path / "s.sqlite")
    assert store.put_new("x", {"k": "1"}, lambda new: {"n": len(new)}) == {}
    assert store.put_new("x", {"k": "2", "j": "3"}, lambda new: {"n": len(new)}) == {"k": "1"}
    assert dict(store.items("x")) == {"k": "1", "j": "3"} and store.counters()["n"] == 2

    def broken(new):
        raise RuntimeError("killed while counting")

    with pytest.raises(RuntimeError):
        store.put_new("x", {"z": "4"}, broken)
    assert store.get("x", "z") is None  # neither the value nor its counters


# --- the real engine ------------------------------------------------------------------------------


@pytest.mark.model
def test_llamacpp_prompt_over_the_context_is_not_stored_and_keys_hold_its_options(tmp_path):
    from conftest import need_module

    need_module("llama_cpp", "pip install 'multiplt[cpu]'")
    store = WorkStore(tmp_path / "s.sqlite")
    with get_llm("llamacpp", model="smollm2-135m", n_parallel=2, n_ctx=256) as llm:
        assert '"n_ctx": 256' in llm.cache_id and '"top_k": 0' in llm.cache_id
        assert models_mod.MODELS["smollm2-135m"].sha256 in llm.cache_id
        s = Sampling(n=2, max_tokens=8, seed=1)
        out = cached_generate(store, llm, ["x = 1\n", "word " * 400], s)
        assert not out[0][0].failed and out[1][0].finish_reason == "prompt too long"
        assert store.count("llm") == 2 and store.counters()["llm.failed"] == 2
    with get_llm("llamacpp", model="smollm2-135m", n_parallel=2, n_ctx=512) as bigger:
        assert bigger.cache_id != llm.cache_id
