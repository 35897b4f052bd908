"""Racket: lists and tuples are lists, dicts are immutable hashes, sets are sets, None is #f.

rackunit's checks report a failure and still exit 0, and `check-equal?` says 15.0 differs from 15: the
harness here compares numbers numerically, reports each failed assert and exits 1 if any failed.
"""

from __future__ import annotations

from typing import ClassVar

from multiplt.sandboxes.runtimes import Runtime, exit_zero_and_quiet_stderr

from multiplt.pytypes import DictT, ListT, SetT, TupleT, Type

from ._strings import escape
from .base import Check, Language

_PRELUDE = r"""
(define (multiplt-num-eq? a b rel abs-tol)
  (cond [(and (nan? a) (nan? b)) #t]
        [(or (nan? a) (nan? b)) #f]
        [(= a b) #t]
        [(or (infinite? a) (infinite? b)) #f]
        [(and (zero? rel) (zero? abs-tol)) #f]
        [else (<= (abs (- a b)) (max (* rel (max (abs a) (abs b))) abs-tol))]))
(define (multiplt-eq? a b rel abs-tol)
  (cond [(and (real? a) (real? b)) (multiplt-num-eq? a b rel abs-tol)]
        [(and (string? a) (string? b)) (string=? a b)]
        [(and (list? a) (list? b))
         (and (= (length a) (length b)) (andmap (lambda (x y) (multiplt-eq? x y rel abs-tol)) a b))]
        [(and (hash? a) (hash? b))
         (and (= (hash-count a) (hash-count b))
              (for/and ([(k v) (in-hash b)])
                (and (hash-has-key? a k) (multiplt-eq? (hash-ref a k) v rel abs-tol))))]
        [(and (set? a) (set? b)) (equal? (list->set (set->list a)) b)]
        [else (equal? a b)]))
(define multiplt-failed 0)
(define (multiplt-check i text thunk expected rel abs-tol)
  (with-handlers ([(lambda (e) #t)
                   (lambda (e)
                     (set! multiplt-failed (add1 multiplt-failed))
                     (eprintf "FAIL ~a: ~a -- raised: ~a\n" i text (if (exn? e) (exn-message e) e)))])
    (let ([actual (thunk)])
      (unless (multiplt-eq? actual expected rel abs-tol)
        (set! multiplt-failed (add1 multiplt-failed))
        (eprintf "FAIL ~a: ~a -- got ~s\n" i text actual)))))
"""


class Racket(Language):
    name = "racket"
    display_name = "Racket"
    non_finite = ("+nan.0", "+inf.0", "-inf.0")
    runtime = Runtime(
        "racket",
        "main.rkt",
        ("racket", "main.rkt"),
        "racket.Dockerfile",
        # rackunit reports a failed check on stderr and still exits 0 (MultiPL-T kept such programs)
        passes=exit_zero_and_quiet_stderr,
        memory_mb=1024,
        timeout_s=20.0,
        version_argv=("racket", "--version"),
        address_space_limit_ok=False,
    )
    stop_sequences: ClassVar[list[str]] = ["\n(define ", "\n#|", "\n;", "\n(", "\n```"]
    grammar = "racket"
    function_kinds = frozenset({"list"})
    line_comment = ";;"
    sig_pattern = r"^\(define \("
    has_defaults = True  # optional arguments: (define (f a [b 1]) ...)
    unit_stop_sequences: ClassVar[list[str]] = ["\n#|", "\n```"]
    definition_pattern = r"\(define\s+\(?([^\s()\[\]]+)"
    int_range = None  # exact integers of any size
    words: ClassVar[dict[str, str]] = {
        "dictionaries": "hashes",
        "dictionary": "hash",
        "dicts": "hashes",
        "dict": "hash",
        "tuples": "lists",
        "tuple": "list",
        "None": "#f",
        "True": "#t",
        "False": "#f",
    }

    def bool_lit(self, v: bool) -> str:
        return "#t" if v else "#f"

    def str_lit(self, v: str) -> str:
        return '"' + escape(v, lambda c: f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}") + '"'

    def none_lit(self, t: Type) -> str:
        return "#f"

    def list_lit(self, items: list[str], t: ListT) -> str:
        return f"(list {' '.join(items)})" if items else "(list)"

    def tuple_lit(self, items: list[str], t: TupleT) -> str:
        return f"(list {' '.join(items)})" if items else "(list)"

    def set_lit(self, items: list[str], t: SetT) -> str:
        return f"(set {' '.join(items)})" if items else "(set)"

    def dict_lit(self, pairs: list[tuple[str, str]], t: DictT) -> str:
        return "(hash" + "".join(f" {k} {v}" for k, v in pairs) + ")"

    def call(self, fn: str, args: list[str]) -> str:
        return f"({fn}{''.join(' ' + a for a in args)})"

    def prompt_header(self) -> str:
        return "#lang racket\n\n"

    def signature(
        self, name: str, params: list[str], types: list[Type] | None, defaults: list[str | None] | None = None
    ) -> str:
        defaults = defaults or [None] * len(params)
        args = [p if d is None else f"[{p} {d}]" for p, d in zip(params, defaults, strict=True)]
        return f"(define ({name}{''.join(' ' + a for a in args)})\n"

    def completion_returning(self, expr: str) -> str:
        return f"  {expr})\n"

    def program(self, function_code: str, suite: object) -> str:
        body = function_code.lstrip()
        if body.startswith("#lang"):
            body = body.split("\n", 1)[1] if "\n" in body else ""
        return "#lang racket\n\n" + super().program(body, suite)  # type: ignore[arg-type]

    harness_prelude = _PRELUDE

    def check_call(self, c: Check) -> str:
        return (
            f"(multiplt-check {c.index} {self.str_lit(c.source)} (lambda () {c.call}) {c.expected} "
            f"{c.rel_tol!r} {c.abs_tol!r})"
        )

    def harness_end(self, mark: str) -> str:
        return f'(if (> multiplt-failed 0) (exit 1) (printf "{mark}\\n"))'
