"""The chat prompt shape: the model's own template around the Python, the answer opened as the
completion prompt, so cleaning and caching work as for a completion. The templates here are small
real Jinja chat templates (ChatML, as Qwen's renders a system and a user turn)."""

from __future__ import annotations

import pytest

from multiplt import compilers
from multiplt.build import chat_renderer
from multiplt.errors import UsageError
from multiplt.funnel import Funnel
from multiplt.llm.base import TEMPLATES_STAGE
from multiplt.llm.chat import ChatTemplateError, render
from multiplt.llm.replay import ReplayLLM
from multiplt.pytypes import INT
from multiplt.records import PyFunction, TypeSignature
from multiplt.records import TestedFunction as Tested
from multiplt.store import WorkStore
from multiplt.translate import prepare_one

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
FN = PyFunction.make(
    name="double",
    source='def double(x: int) -> int:\n    """Twice x."""\n    return x * 2\n',
    docstring="Twice x.",
    signature="def double(x: int) -> int:",
)
TYPES = TypeSignature(params=(("x", INT),), returns=INT)
TESTED = Tested(FN, ("assert double(2) == 4",), 1.0, TYPES)


def test_a_template_renders_the_turns_and_opens_the_answer() -> None:
    text = render(CHATML, [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    refusing = "{{ raise_exception('no system role') }}"
    with pytest.raises(ChatTemplateError, match="no system role"):
        render(refusing, [])


@pytest.mark.parametrize("language", ["racket", "lua", "ocaml", "elixir"])
def test_a_chat_prompt_shows_the_python_and_cleans_as_a_completion(language: str) -> None:
    lang = compilers.get(language)

    def chat(messages: list[dict[str, str]]) -> str:
        return render(CHATML, messages)

    plain = prepare_one(TESTED, lang, Funnel())
    job = prepare_one(TESTED, lang, Funnel(), chat=chat)
    assert plain is not None and job is not None
    assert job.prompt.startswith("<|im_start|>system\n")
    assert "```python\ndef double(x: int) -> int:" in job.prompt
    opening = lang.prompt(FN, TYPES if lang.typed else None, python_body=False)
    assert job.prompt.endswith(f"<|im_start|>assistant\n```{language}\n{opening}")
    body = lang.completion_returning("x")
    assert lang.clean(job.prompt, body + "```\nThis doubles x.") == lang.clean(plain.prompt, body)


def test_a_replay_renders_the_template_its_store_recorded(tmp_path: object) -> None:
    store = WorkStore(f"{tmp_path}/store.sqlite")
    store.put_new("llm.models", {"m {}": '{"model_id": "m"}'})
    replay = ReplayLLM(store)
    with pytest.raises(UsageError, match="no chat template"):
        chat_renderer(replay)
    store.put_new(TEMPLATES_STAGE, {replay.cache_id: CHATML})
    assert chat_renderer(replay)([{"role": "user", "content": "U"}]).endswith("<|im_start|>assistant\n")

    class NoTemplate:
        model_id = "server"

    with pytest.raises(UsageError, match="needs a backend that renders"):
        chat_renderer(NoTemplate())
