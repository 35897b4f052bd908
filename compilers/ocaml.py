"""OCaml: typed. Dicts are association lists, sets are lists compared as sets, Optional is `option`,
a 1-tuple is its element. Ints are 63-bit. A union of types becomes a variant type declared with the
function (one constructor per member), since OCaml has no untagged union.

Negative numbers and `Some x` are parenthesised wherever they appear: `f ~1` and `f Some "x"` are the
errors MultiPL-E makes.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from multiplt.sandboxes.runtimes import Runtime

from multiplt.pytypes import (
    ANY,
    DictT,
    ListT,
    OptionalT,
    Prim,
    SetT,
    TupleT,
    Type,
    UnionT,
    Unsupported,
    VarTupleT,
)

from .base import Check, Language
from .units import python_intro

_PRELUDE = r"""
let multiplt_eq_float rel abs_tol (a : float) (b : float) =
  (Float.is_nan a && Float.is_nan b)
  || (not (Float.is_nan a || Float.is_nan b))
     && (a = b
         || Float.is_finite a && Float.is_finite b && (rel > 0. || abs_tol > 0.)
            && Float.abs (a -. b) <= Float.max (rel *. Float.max (Float.abs a) (Float.abs b)) abs_tol)
let multiplt_eq_int (a : int) (b : int) = a = b
let multiplt_eq_bool (a : bool) (b : bool) = a = b
let multiplt_eq_string (a : string) (b : string) = String.equal a b
let multiplt_eq_unit () () = true
let multiplt_eq_any _ _ = true
let rec multiplt_eq_list eq a b =
  match a, b with
  | [], [] -> true
  | x :: xs, y :: ys -> eq x y && multiplt_eq_list eq xs ys
  | _ -> false
let multiplt_eq_option eq a b =
  match a, b with None, None -> true | Some x, Some y -> eq x y | _ -> false
let multiplt_eq_set eq a b =
  List.for_all (fun x -> List.exists (eq x) b) a && List.for_all (fun y -> List.exists (fun x -> eq x y) a) b
let multiplt_eq_assoc eqk eqv a b =
  List.length a = List.length b
  && List.for_all (fun (k, v) -> List.exists (fun (k', v') -> eqk k' k && eqv v' v) a) b
let multiplt_failed = ref 0
let multiplt_check i text thunk expected eq =
  match thunk () with
  | actual ->
      if not (eq actual expected) then begin
        incr multiplt_failed;
        prerr_endline (Printf.sprintf "FAIL %d: %s" i text)
      end
  | exception e ->
      incr multiplt_failed;
      prerr_endline (Printf.sprintf "FAIL %d: %s -- raised: %s" i text (Printexc.to_string e))
"""

_OCAML_MAX = 2**62 - 1


class OCaml(Language):
    name = "ocaml"
    display_name = "OCaml"
    non_finite = ("nan", "infinity", "neg_infinity")
    runtime = Runtime(
        "ocaml", "main.ml", ("ocaml", "main.ml"), "ocaml.Dockerfile", version_argv=("ocaml", "-version")
    )
    typed = True
    stop_sequences: ClassVar[list[str]] = ["\nlet ", "\n(*", "\ntype ", "\n;;", "\n```", "\nmodule "]
    grammar = "ocaml"
    function_kinds = frozenset({"value_definition"})
    preamble_kinds = frozenset({"type_definition"})
    line_comment = "(*"
    sig_pattern = r"^let rec "
    unit_stop_sequences: ClassVar[list[str]] = ["\n```", "\n;;"]
    definition_pattern = r"let\s+(?:rec\s+)?([a-z_][\w']*)"
    int_range = (-_OCAML_MAX - 1, _OCAML_MAX)
    int_range_reason = "integer beyond 63 bits (OCaml's int)"
    reserved = frozenset(
        "and as assert asr begin class constraint do done downto else end exception external false for fun "
        "function functor if in include inherit initializer land lazy let lor lsl lsr lxor match method mod "
        "module mutable new nonrec object of open or private rec sig struct then to true try type val virtual "
        "when while with".split()
    )
    words: ClassVar[dict[str, str]] = {
        "dictionaries": "association lists",
        "dictionary": "association list",
        "dicts": "association lists",
        "dict": "association list",
        "True": "true",
        "False": "false",
    }

    def ident(self, name: str) -> str:
        name = name[:1].lower() + name[1:]
        return super().ident(name)

    # ----- values ----------------------------------------------------------------------------------

    def int_lit(self, v: int) -> str:
        if v == -_OCAML_MAX - 1:
            return "min_int"
        return f"({v})" if v < 0 else str(v)

    def finite_float_lit(self, v: float) -> str:
        text = repr(v)
        return f"({text})" if v < 0 or text.startswith("-") else text

    def str_lit(self, v: str) -> str:
        out = []
        for c in v:
            if c in '\\"':
                out.append("\\" + c)
            elif c == "\n":
                out.append("\\n")
            elif c == "\t":
                out.append("\\t")
            elif c == "\r":
                out.append("\\r")
            elif " " <= c <= "~":
                out.append(c)
            elif ord(c) < 0x80:
                out.append(f"\\{ord(c):03d}")
            else:
                out.append(f"\\u{{{ord(c):x}}}")
        return '"' + "".join(out) + '"'

    def none_lit(self, t: Type) -> str:
        if not isinstance(t, OptionalT):
            return "()"  # a function returning None returns unit
        return "None"

    def some(self, rendered: str, t: OptionalT) -> str:
        return f"(Some {rendered})"

    def any_value(self, v: Any) -> str:
        raise Unsupported("a value of unknown type (OCaml needs one type per list or parameter)")

    def list_lit(self, items: list[str], t: ListT) -> str:
        return f"[{'; '.join(items)}]"

    def vartuple_lit(self, items: list[str], t: VarTupleT) -> str:
        return f"[{'; '.join(items)}]"

    def tuple_lit(self, items: list[str], t: TupleT) -> str:
        if len(items) == 1:
            return items[0]
        return f"({', '.join(items)})"

    def set_lit(self, items: list[str], t: SetT) -> str:
        return f"[{'; '.join(items)}]"

    def dict_lit(self, pairs: list[tuple[str, str]], t: DictT) -> str:
        return "[" + "; ".join(f"({k}, {v})" for k, v in pairs) + "]"

    def union_value(self, v: Any, option: Type, t: UnionT) -> str:
        return f"({self.constructor(option)} {self.value(v, option)})"

    def constructor(self, t: Type) -> str:
        """The variant constructor for one member of a union, named after its type."""
        words = re.sub(r"[^A-Za-z0-9]+", "_", self.type_name(t)).strip("_").split("_")
        return "".join(w[:1].upper() + w[1:] for w in words if w)

    # ----- types -----------------------------------------------------------------------------------

    def type_name(self, t: Type) -> str:
        match t:
            case Prim(name):
                return {"int": "int", "float": "float", "bool": "bool", "str": "string", "None": "unit"}.get(
                    name, "'a"
                )
            case ListT(e) | VarTupleT(e) | SetT(e):
                return f"{self._atom(e)} list"
            case TupleT(es):
                if not es:
                    return "unit"
                if len(es) == 1:
                    return self.type_name(es[0])
                return " * ".join(self._atom(e) for e in es)
            case DictT(k, v):
                return f"({self._atom(k)} * {self._atom(v)}) list"
            case OptionalT(i):
                return f"{self._atom(i)} option"
            case UnionT():
                return self.union_name(t)
        raise Unsupported(f"no OCaml type for {t}")

    def _atom(self, t: Type) -> str:
        name = self.type_name(t)
        return f"({name})" if " * " in name or " -> " in name else name

    def union_name(self, t: UnionT) -> str:
        return "value"

    def unions(self, types: list[Type]) -> list[UnionT]:
        """Every union inside the types, innermost first, each once."""
        found: list[UnionT] = []

        def visit(t: Type) -> None:
            match t:
                case ListT(e) | VarTupleT(e) | SetT(e) | OptionalT(e):
                    visit(e)
                case TupleT(es):
                    for e in es:
                        visit(e)
                case DictT(k, v):
                    visit(k)
                    visit(v)
                case UnionT(os):
                    for o in os:
                        visit(o)
                    if t not in found:
                        found.append(t)

        for t in types:
            visit(t)
        return found

    def validate_signature(self, types: list[Type]) -> None:
        super().validate_signature(types)
        members = [o for u in self.unions(types) for o in u.options]
        if any("'a" in self.type_name(o) for o in members):
            raise Unsupported("a union holding a value of unknown type (OCaml needs a concrete type)")

    def type_decls(self, types: list[Type]) -> str:
        """One variant type, `value`, with a constructor for each type any union of the signature holds:
        one type rather than one per union, so constructor names never clash."""
        members: list[Type] = []
        for u in self.unions(types):
            members += [o for o in u.options if o not in members]
        if not members:
            return ""
        cases = " | ".join(f"{self.constructor(o)} of {self.type_name(o)}" for o in members)
        return f"type value = {cases}\n"

    def eq_fn(self, t: Type, rel: float, abs_tol: float) -> str:
        """An equality function for values of type `t`, built from the prelude's combinators."""
        match t:
            case Prim("int"):
                return "multiplt_eq_int"
            case Prim("float"):
                return f"(multiplt_eq_float {rel!r} {abs_tol!r})"
            case Prim("bool"):
                return "multiplt_eq_bool"
            case Prim("str"):
                return "multiplt_eq_string"
            case Prim("None"):
                return "multiplt_eq_unit"
            case Prim("Any"):
                return "multiplt_eq_any"
            case ListT(e) | VarTupleT(e):
                return f"(multiplt_eq_list {self.eq_fn(e, rel, abs_tol)})"
            case SetT(e):
                return f"(multiplt_eq_set {self.eq_fn(e, rel, abs_tol)})"
            case OptionalT(i):
                return f"(multiplt_eq_option {self.eq_fn(i, rel, abs_tol)})"
            case DictT(k, v):
                return f"(multiplt_eq_assoc {self.eq_fn(k, rel, abs_tol)} {self.eq_fn(v, rel, abs_tol)})"
            case TupleT(es):
                if not es:
                    return "multiplt_eq_unit"
                if len(es) == 1:
                    return self.eq_fn(es[0], rel, abs_tol)
                xs = ", ".join(f"a{i}" for i in range(len(es)))
                ys = ", ".join(f"b{i}" for i in range(len(es)))
                body = " && ".join(f"{self.eq_fn(e, rel, abs_tol)} a{i} b{i}" for i, e in enumerate(es))
                return f"(fun ({xs}) ({ys}) -> {body})"
            case UnionT(os):
                arms = " | ".join(
                    f"{self.constructor(o)} x, {self.constructor(o)} y -> {self.eq_fn(o, rel, abs_tol)} x y"
                    for o in os
                )
                return f"(fun a b -> match a, b with {arms} | _ -> false)"
        raise Unsupported(f"no OCaml equality for {t}")

    # ----- prompt and harness ----------------------------------------------------------------------

    def python_comment(self, source: str, *, unit: str = "") -> str:
        text = python_intro(unit) + "\n" + source.rstrip()
        return "(* " + _comment_safe(text) + "\n*)\n"

    def signature_start(self, prompt: str) -> int:
        # the union types declared for the signature belong to the function
        start = super().signature_start(prompt)
        while start > 0:
            prev = prompt.rfind("\n", 0, start - 1) + 1
            if not prompt.startswith("type ", prev):
                break
            start = prev
        return start

    def doc_comment(self, doc: str) -> str:
        if not doc.strip():
            return ""
        return "(** " + _comment_safe(doc) + " *)\n"

    def signature(
        self, name: str, params: list[str], types: list[Type] | None, defaults: list[str | None] | None = None
    ) -> str:
        types = types or [ANY] * (len(params) + 1)
        decls = self.type_decls(types)
        if not params:
            args = " ()"
        else:
            args = "".join(f" ({p} : {self.type_name(t)})" for p, t in zip(params, types, strict=False))
        return f"{decls}let rec {name}{args} : {self.type_name(types[-1])} =\n"

    def helper_signature(self, name: str, params: list[str]) -> str:
        # OCaml infers a helper's types; annotating them would need types nobody observed
        return f"let rec {name}{''.join(' ' + p for p in params) or ' ()'} =\n"

    def completion_returning(self, expr: str) -> str:
        return f"  {expr}\n"

    def call(self, fn: str, args: list[str]) -> str:
        return f"{fn} {' '.join(args)}" if args else f"{fn} ()"

    harness_prelude = ";;\n" + _PRELUDE

    def check_call(self, c: Check) -> str:
        eq = self.eq_fn(c.type, c.rel_tol, c.abs_tol)
        return f"let () = multiplt_check {c.index} {self.str_lit(c.source)} (fun () -> {c.call}) {c.expected} {eq}"

    def harness_end(self, mark: str) -> str:
        return f'let () = if !multiplt_failed > 0 then exit 1\nlet () = print_endline "{mark}"'


def _comment_safe(text: str) -> str:
    """Text that cannot end or unbalance an OCaml comment: the lexer reads string literals and nested
    comment openers inside comments, so a stray quote or `(*` breaks the program."""
    return text.replace('"', "'").replace("(*", "( *").replace("*)", "* )").replace("{|", "{ |")
