"""MultiPL-T's test-generation prompt and the stop sequences that end a block of asserts."""

from __future__ import annotations

from multiplt.records import PyFunction

STOP = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n```", "\n@")


def assert_prefix(fn: PyFunction) -> str:
    """The text the prompt ends with, and that every completion continues."""
    return f"assert {fn.name}("


def test_prompt(fn: PyFunction) -> str:
    """The function, then a comment asking for positional-argument asserts, then the first assert opened.

    Ending the prompt inside `assert f(` makes even a base model continue with a test rather than
    prose, and the comment steers it away from keyword arguments, which most targets cannot express.
    """
    return (
        f"{fn.module_source.rstrip()}\n\n\n"
        f"# Unit tests for {fn.name}.\n"
        f"# Each test is one line of the form: assert {fn.name}(...) == ...\n"
        f"# Use only positional arguments and literal values (no keyword arguments, no variables).\n"
        f"{assert_prefix(fn)}"
    )


test_prompt.__test__ = False  # type: ignore[attr-defined]  # a prompt builder, not a pytest test
