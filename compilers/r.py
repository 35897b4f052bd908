"""R: numbers are doubles, lists of one atomic type are vectors (`c(...)`), anything else is `list(...)`;
dicts are named lists; None is NULL, which R also uses for an empty vector."""

from __future__ import annotations

from typing import ClassVar

from multiplt.sandboxes.runtimes import Runtime

from multiplt.pytypes import INT, DictT, ListT, Prim, SetT, TupleT, Type, Unsupported, VarTupleT

from ._strings import escape
from .base import Check, Language

_PRELUDE = r"""
multiplt_num_eq <- function(a, b, rel, abs_tol) {
  if (is.nan(a) && is.nan(b)) return(TRUE)
  if (is.na(a) || is.na(b)) return(FALSE)
  if (a == b) return(TRUE)
  if (is.infinite(a) || is.infinite(b)) return(FALSE)
  if (rel == 0 && abs_tol == 0) return(FALSE)
  abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_tol)
}
multiplt_eq <- function(a, b, rel, abs_tol) {
  if (is.null(b)) return(is.null(a))
  if (length(b) == 0 && is.null(names(b))) return((is.null(a) || is.vector(a)) && length(a) == 0 && is.null(names(a)))
  if (is.null(a) || !(is.vector(a) || is.list(a))) return(FALSE)
  if (length(a) != length(b)) return(FALSE)
  if (!is.null(names(b))) {
    if (is.null(names(a)) || !setequal(names(a), names(b)) || anyDuplicated(names(a)) > 0) return(FALSE)
    for (k in names(b)) if (!multiplt_eq(a[[k]], b[[k]], rel, abs_tol)) return(FALSE)
    return(TRUE)
  }
  if (length(b) == 1 && !is.list(b)) {
    if (is.list(a)) a <- a[[1]]
    if (length(a) != 1 || is.list(a)) return(FALSE)
    if (is.logical(b)) return(is.logical(a) && !is.na(a) && a == b)
    if (is.character(b)) return(is.character(a) && !is.na(a) && a == b)
    if (is.numeric(b)) return(is.numeric(a) && multiplt_num_eq(a, b, rel, abs_tol))
    return(FALSE)
  }
  for (i in seq_along(b)) if (!multiplt_eq(a[[i]], b[[i]], rel, abs_tol)) return(FALSE)
  TRUE
}
multiplt_set_eq <- function(a, b, rel, abs_tol) {
  if (length(b) == 0) return(length(a) == 0)
  if (is.null(a) || length(a) == 0) return(FALSE)
  a <- unique(unlist(a)); b <- unique(unlist(b))
  for (x in b) if (!any(vapply(as.list(a), function(y) multiplt_eq(y, x, rel, abs_tol), logical(1)))) return(FALSE)
  for (y in a) if (!any(vapply(as.list(b), function(x) multiplt_eq(y, x, rel, abs_tol), logical(1)))) return(FALSE)
  TRUE
}
multiplt_failed <- 0
multiplt_check <- function(i, text, thunk, expected, rel, abs_tol, eq = multiplt_eq) {
  result <- tryCatch(list(ok = TRUE, value = thunk()),
                     error = function(e) list(ok = FALSE, value = conditionMessage(e)))
  if (!result$ok) {
    multiplt_failed <<- multiplt_failed + 1
    cat("FAIL ", i, ": ", text, " -- raised: ", result$value, "\n", sep = "", file = stderr())
  } else if (!isTRUE(eq(result$value, expected, rel, abs_tol))) {
    multiplt_failed <<- multiplt_failed + 1
    cat("FAIL ", i, ": ", text, " -- got ", paste(deparse(result$value), collapse = " "), "\n", sep = "", file = stderr())
  }
}
"""

# The warm evaluator (a fork server, see the runner's `Evaluator`): R starts once per container and
# forks per program, so every program runs in a pristine copy of the started interpreter and leaves
# nothing behind. Both forks are estranged (`parallel` keeps no pipe to them, so neither waits on the
# evaluator): the intermediate one exits at once, which orphans the program to the runner; the
# program writes its own pid to the runner and starts once the intermediate fork is gone. The program gets its own working directory, HOME and an empty
# tempdir. It runs without the byte-code JIT (`mcfork` turns it off in a child; a fresh Rscript has it
# on): the same semantics and far less work for a test program, whose loops run a few times while
# their compilation costs more than the rest of the run; only speed differs, and a warm timeout is
# re-run cold by the runner, so it cannot change a verdict. It ends
# as Rscript ends a script (`.Last`, then output flushed, exit status 0), or with the status given to
# `quit`/`q`, which the evaluator provides on the search path: without R's own clean-up, which here
# would cost more than the whole program (R's quit tears down a session that is not the program's).
_EVALUATOR = r"""
# multiplt: the warm evaluator of R
local({
  invisible(loadNamespace("parallel"))
  leave <- function(status, runLast = TRUE) {
    try(.Internal(printDeferredWarnings()))
    if (runLast && exists(".Last", envir = globalenv(), mode = "function", inherits = FALSE)) try(get(".Last", envir = globalenv())())
    flush(stdout())
    flush(stderr())
    .Call(parallel:::C_mc_exit, as.integer(status))
  }
  exits <- list(
    quit = function(save = "default", status = 0L, runLast = TRUE) leave(status, runLast)
  )
  exits$q <- exits$quit
  cmd <- file("/dev/fd/3", open = "r", blocking = TRUE, raw = TRUE)
  ans <- file("/dev/fd/4", open = "w", blocking = TRUE, raw = TRUE)
  writeLines("READY", ans)
  flush(ans)
  repeat {
    line <- readLines(cmd, n = 1L)
    if (length(line) == 0L) quit(save = "no", status = 0L)
    parts <- strsplit(line, "\t", fixed = TRUE)[[1L]]
    middle <- parallel:::mcfork(estranged = TRUE)
    if (inherits(middle, "masterProcess")) {
      middle_proc <- file.path("/proc", Sys.getpid())
      program <- parallel:::mcfork(estranged = TRUE)
      if (!inherits(program, "masterProcess")) .Call(parallel:::C_mc_exit, 0L)
      writeLines(paste("PID", Sys.getpid()), ans)
      flush(ans)
      close(cmd)
      close(ans)
      setwd(parts[[1L]])
      Sys.setenv(HOME = parts[[1L]])
      dir.create(tempdir(), showWarnings = FALSE, recursive = TRUE)
      attach(exits, name = "multiplt:exit", warn.conflicts = FALSE)
      # start once the intermediate fork is gone: it could reap a program that already ended
      # (parallel's handler would), and the program never sees it
      waited <- 0L
      while (dir.exists(middle_proc) && waited < 20000L) {
        Sys.sleep(0.0002)
        waited <- waited + 1L
      }
      source(parts[[2L]], echo = FALSE)
      leave(0L)
    }
  }
})
"""

# Doubles hold every int up to 2**53 exactly; past that an int literal would silently change.
_EXACT = 2**53


def _atomic_kind(t: Type) -> str | None:
    if t == INT or t == Prim("float"):
        return "num"
    if isinstance(t, Prim) and t.name in {"bool", "str"}:
        return t.name
    return None


class R(Language):
    name = "r"
    display_name = "R"
    non_finite = ("NaN", "Inf", "-Inf")
    runtime = Runtime(
        "r",
        "main.R",
        ("Rscript", "main.R"),
        "r.Dockerfile",
        timeout_s=15.0,
        version_argv=("Rscript", "--version"),
        warm_argv=("Rscript", "-e", _EVALUATOR),
        warm_protocol="lines",
    )
    stop_sequences: ClassVar[list[str]] = ["\n#", "\n```", "\nprint(", "\ncat("]
    grammar = "r"
    function_kinds = frozenset({"binary_operator", "left_assignment"})
    line_comment = "#"
    sig_pattern = r"^\S+ <- function\("
    has_defaults = True
    unit_stop_sequences: ClassVar[list[str]] = ["\n```", "\nprint(", "\ncat("]
    definition_pattern = r"([A-Za-z.][\w.]*)\s*(?:<-|=)"
    int_range = (-_EXACT, _EXACT)
    int_range_reason = "integer beyond 2**53 (R numbers are doubles)"
    reserved = frozenset(
        "if else repeat while function for next break TRUE FALSE NULL Inf NaN NA NA_integer_ NA_real_ "
        "NA_character_ in".split()
    )

    def ident(self, name: str) -> str:
        # an R name cannot start with "_"; a leading dot keeps it distinct and valid
        return super().ident(f".{name}" if name.startswith("_") else name)

    words: ClassVar[dict[str, str]] = {
        "dictionaries": "named lists",
        "dictionary": "named list",
        "dicts": "named lists",
        "dict": "named list",
        "tuples": "lists",
        "tuple": "list",
        "None": "NULL",
        "True": "TRUE",
        "False": "FALSE",
    }

    def bool_lit(self, v: bool) -> str:
        return "TRUE" if v else "FALSE"

    def str_lit(self, v: str) -> str:
        if "\0" in v:
            raise Unsupported("NUL character (R strings cannot hold it)")
        return (
            '"'
            + escape(v, lambda c: f"\\u{{{ord(c):04x}}}" if ord(c) < 0x10000 else f"\\U{{{ord(c):08x}}}")
            + '"'
        )

    def none_lit(self, t: Type) -> str:
        return "NULL"

    def _seq(self, items: list[str], elem_types: list[Type]) -> str:
        kinds = {_atomic_kind(t) for t in elem_types}
        if items and len(kinds) == 1 and None not in kinds:
            return f"c({', '.join(items)})"
        return f"list({', '.join(items)})"

    def list_lit(self, items: list[str], t: ListT) -> str:
        return self._seq(items, [t.elem] * len(items))

    def vartuple_lit(self, items: list[str], t: VarTupleT) -> str:
        return self._seq(items, [t.elem] * len(items))

    def tuple_lit(self, items: list[str], t: TupleT) -> str:
        return self._seq(items, list(t.elems))

    def set_lit(self, items: list[str], t: SetT) -> str:
        raise Unsupported("a set inside another value (R has no set type)")

    def dict_lit(self, pairs: list[tuple[str, str]], t: DictT) -> str:
        if not pairs:
            return "list()"
        if t.key not in (Prim("str"), INT):
            raise Unsupported("dict keys other than str or int (R names are strings)")
        names = [k if k.startswith('"') else f'"{k}"' for k, _ in pairs]
        if any(n == '""' for n in names):
            raise Unsupported("empty string as a dict key (R names cannot be empty)")
        return "list(" + ", ".join(f"{n} = {v}" for n, (_, v) in zip(names, pairs, strict=True)) + ")"

    def top_value(self, v: object, t: Type) -> str:
        """A set is a vector compared as a set, which R can do only at the top of a value."""
        if isinstance(t, SetT):
            items = sorted(v, key=lambda x: (type(x).__name__, repr(x)))  # type: ignore[call-overload]
            return self._seq([self.value(x, t.elem) for x in items], [t.elem] * len(items))
        return self.value(v, t)

    def signature(
        self, name: str, params: list[str], types: list[Type] | None, defaults: list[str | None] | None = None
    ) -> str:
        defaults = defaults or [None] * len(params)
        args = [p if d is None else f"{p} = {d}" for p, d in zip(params, defaults, strict=True)]
        return f"{name} <- function({', '.join(args)}) {{\n"

    def completion_returning(self, expr: str) -> str:
        return f"  {expr}\n}}\n"

    harness_prelude = _PRELUDE

    def check_call(self, c: Check) -> str:
        eq = ", eq = multiplt_set_eq" if _is_set(c.type) else ""
        return (
            f"multiplt_check({c.index}, {self.str_lit(c.source)}, function() {c.call}, {c.expected}, "
            f"{c.rel_tol!r}, {c.abs_tol!r}{eq})"
        )

    def harness_end(self, mark: str) -> str:
        return f'if (multiplt_failed > 0) quit(status = 1)\ncat("{mark}\\n")'


def _is_set(t: Type) -> bool:
    return isinstance(t, SetT)
