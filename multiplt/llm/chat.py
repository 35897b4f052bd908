"""An instruct model's own chat template, rendered into the text its completion endpoint is fed.

A chat prompt is still a completion here: the template turns the messages into the exact text the
model was tuned on, and the translate stage appends the opening of the assistant's answer (a code
fence, the target's doc comment and signature), so the cleaner, the stop strings and the cache work
as they do for a completion prompt. The template is the model's own: a GGUF file's
`tokenizer.chat_template`, a Hugging Face tokenizer's for vLLM.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

Message = dict[str, str]


class ChatTemplateError(ValueError):
    """The model has no chat template, or its template does not render."""


def render(template: str, messages: Sequence[Message], *, bos: str = "", eos: str = "") -> str:
    """`messages` through a Jinja chat template (as transformers renders it: sandboxed, trimmed
    blocks, the generation prompt added), ready for the assistant's answer."""
    try:
        from jinja2.exceptions import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError as exc:  # jinja2 comes with llama-cpp-python and transformers
        raise ChatTemplateError("rendering a chat template needs jinja2: pip install jinja2") from exc

    def raise_exception(message: str) -> None:
        raise ChatTemplateError(f"the chat template refused the messages: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        compiled = env.from_string(template)
        context: dict[str, Any] = {
            "messages": list(messages),
            "add_generation_prompt": True,
            "bos_token": bos,
            "eos_token": eos,
        }
        return compiled.render(**context)
    except TemplateError as exc:
        raise ChatTemplateError(f"the chat template does not render: {exc}") from exc
