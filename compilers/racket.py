"""Racket: lists and tuples are lists, dicts are immutable hashes, sets are sets, None is #f.

rackunit's checks report a failure and still exit 0, and `check-equal?` says 15.0 differs from 15: the
harness here compares numbers numerically, reports each failed assert and exits 1 if any failed.
"""

from __future__ import annotations

from typing import ClassVar

from multiplt.sandboxes.runtimes import Runtime, exit_zero_and_quiet_stderr, started_from_file

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

# The warm evaluator: Racket starts once per container with the `racket` language instantiated and
# runs each program in-process (see the runner's `Evaluator`), which costs a tenth of a cold start. A
# fork per program, as R and Python do, was measured here at under half that gain: the fork's
# copy-on-write faults made each expansion of `#lang racket` as slow again as the rest of its work.
# A program runs as `racket main.rkt` runs it: the evaluator is itself started as `racket main.rkt`,
# so run-file and the namespace's shape are the same; each program gets a fresh namespace with
# `racket` attached (nothing but racket/base bound at the top level, as cold), runs its
# configure-runtime submodule, the module and its main submodule, and an uncaught error prints and
# ends it with 1, as cold. Confinement: a thread of its own under a custodian of its own (shutting it
# down ends every thread, port and subprocess it made), fresh parameters (ports on duplicates of the
# evaluator's descriptors, directory, environment copy, random generator, plumber, exit handler that
# ends only the program) and a code inspector weaker than the one the evaluator and the libraries are
# declared under: a program cannot enter a shared module instance (module->namespace, eval inside it,
# its unexported state such as racket/string's caches), nor use protected exports (unsafe operations,
# the FFI). Library modules it loads are declared under the evaluator's inspector, as cold. A program
# refused by the inspector answers CHANGED and is re-run cold (its cold verdict counts), and so does
# one after which the evaluator's own state differs: the process's environment, directory, the
# descriptors it serves on, or anything left in the custodian above the programs'.
_EVALUATOR = r"""#lang racket/base
;; multiplt: the warm evaluator of Racket
(require ffi/unsafe ffi/unsafe/port racket/port racket/file)
(define (c name type) (get-ffi-obj name #f type))
(define c-dup (c "dup" (_fun _int -> _int)))
(define c-write (c "write" (_fun _int _bytes _size -> _intptr)))
(define c-read (c "read" (_fun _int _bytes _size -> _intptr)))
(define c-setenv (c "setenv" (_fun _string _path _int -> _int)))
;; undumpable: a program's subprocess, running as the same user, cannot ptrace it or write its memory
(void ((c "prctl" (_fun _int _long _long _long _long -> _int)) 4 0 0 0 0))
(void (environment-variables-set! (current-environment-variables) #"PLT_CS_COMPILE_LIMIT" #f))
(define (say s) (let ([b (string->bytes/utf-8 s)]) (void (c-write 4 b (bytes-length b)))))
(define (read-request)
  (define one (make-bytes 1))
  (let loop ([acc '()])
    (cond [(<= (c-read 3 one 1) 0) #f]
          [(= (bytes-ref one 0) 10) (bytes->string/utf-8 (list->bytes (reverse acc)) #\?)]
          [else (loop (cons (bytes-ref one 0) acc))])))
(define shared '(racket racket/lang/reader racket/runtime-config))
(for ([m shared]) (dynamic-require m #f))
(define-namespace-anchor anchor)
(define home (namespace-anchor->namespace anchor))
(define (in-dir? name dir)
  ;; whether a resolved module is a file of the program's own directory
  (let ([n (if (pair? name) (car name) name)])
    (and (path? n)
         (let ([d (path->bytes (path->directory-path dir))] [f (path->bytes n)])
           (and (>= (bytes-length f) (bytes-length d)) (equal? (subbytes f 0 (bytes-length d)) d))))))
;; the inspector the evaluator and the libraries are declared under: each program runs under a weaker
;; one, so it cannot enter a shared module (module->namespace, eval in it, its protected exports)
(define trusted (current-code-inspector))
;; the evaluator's own state a program must leave as it found it: the process's environment, its
;; directory, the descriptors the runner talks on, and nothing left to the evaluator's custodian
(define c-getcwd (c "getcwd" (_fun _bytes _size -> _bytes)))
(define c-fcntl (c "fcntl" (_fun _int _int -> _int)))
(define programs (make-custodian))
(define (own-state)
  (list (sort (for/list ([n (environment-variables-names (current-environment-variables))]
                         #:unless (equal? n #"HOME"))
                (cons n (environment-variables-ref (current-environment-variables) n)))
              bytes<? #:key car)
        (let ([b (make-bytes 4096 0)]) (c-getcwd b 4096) b)
        (for/list ([fd 5]) (c-fcntl fd 1))))
(define before #f)
(define (evaluator-changed)
  (define now (own-state))
  (define left (custodian-managed-list programs (current-custodian)))
  (cond [(not (equal? now before)) "state"]
        [(pair? left) "custodian"]
        [else #f]))
(define (fresh-namespace)
  (define ns (make-base-empty-namespace))
  (for ([m shared]) (namespace-attach-module home m ns))
  ns)
(define (run-program ns dir file in out err)
  ;; -> the exit code and what the program changed of the evaluator (#f: nothing)
  (define cust (make-custodian programs))
  (define plumber (make-plumber))
  (define env (environment-variables-copy (current-environment-variables)))
  (environment-variables-set! env #"HOME" (path->bytes dir))
  (void (c-setenv "HOME" dir 1))
  (define code #f)
  (define changed #f)
  (define (finish! v)
    (unless code (set! code v))
    (for ([p (list out err)]) (with-handlers ([void void]) (flush-output p)))
    (with-handlers ([void void]) (plumber-flush-all plumber))
    (custodian-shutdown-all cust))
  (define standard (current-module-name-resolver))
  (define watching
    (case-lambda
      [(name namespace) (standard name namespace)]
      [(path source stx load?)
       ;; a library module is declared under the evaluator's inspector, as cold; the program's own
       ;; files under the program's weaker one
       (define r
         (if (and load? (not (in-dir? (resolved-module-path-name (standard path source stx #f)) dir)))
             (parameterize ([current-code-inspector trusted]) (standard path source stx load?))
             (standard path source stx load?)))
       r]))
  (define module `(file ,(path->string (build-path dir file))))
  (define (run)
    (define configure `(submod ,module configure-runtime))
    (when (module-declared? configure #t) (dynamic-require configure #f))
    (namespace-require module)
    (define main `(submod ,module main))
    (when (module-declared? main #t) (dynamic-require main #f)))
  (define t
    (parameterize ([current-custodian cust]
                   [current-plumber plumber]
                   [current-namespace ns]
                   [current-input-port in]
                   [current-output-port out]
                   [current-error-port err]
                   [current-directory dir]
                   [current-environment-variables env]
                   [current-command-line-arguments (vector)]
                   [current-pseudo-random-generator (make-pseudo-random-generator)]
                   [current-module-name-resolver watching]
                   [current-code-inspector (make-inspector trusted)]
                   [exit-handler (lambda (v) (finish! (if (and (exact-integer? v) (<= 1 v 255)) v 0)))])
      (thread (lambda ()
                (with-handlers ([(lambda (e) #t)
                                 (lambda (e)
                                   ;; refused here, not cold (the FFI, unsafe operations, a shared
                                   ;; module's namespace): the cold run's verdict counts
                                   (when (and (exn? e) (regexp-match? #rx"code inspector" (exn-message e)))
                                     (set! changed "inspector"))
                                   ((error-display-handler)
                                    (if (exn? e) (exn-message e) (format "uncaught exception: ~e" e))
                                    e)
                                   (finish! 1))])
                  (run))
                (finish! 0)))))
  (thread-wait t)
  (finish! 0)
  (values code (or changed (evaluator-changed))))
(define (port-on fd name mode)
  (unsafe-file-descriptor->port (c-dup fd) name mode))
;; warm up: expand, compile and run a program shaped like the harness's, output thrown away
(let* ([dir (build-path (current-directory) "warmup")]
       [file (build-path dir "main.rkt")])
  (make-directory* dir)
  (call-with-output-file file #:exists 'truncate
    (lambda (o) (write-string WARMUP o)))
  (call-with-values
   (lambda ()
     (run-program (fresh-namespace) dir "main.rkt" (open-input-bytes #"") (open-output-nowhere) (open-output-nowhere)))
   void))
(void (c-setenv "HOME" (current-directory) 1))
(set! before (own-state))
(say "READY\n")
(let loop ([ns (fresh-namespace)])
  (define line (read-request))
  (unless line (exit 0))
  (define parts (regexp-split #rx"\t" line))
  (define dir (string->path (car parts)))
  (define in (port-on 0 'stdin '(read)))
  (define out (port-on 1 'stdout '(write)))
  (define err (port-on 2 'stderr '(write)))
  (file-stream-buffer-mode err 'none)
  (define-values (code changed) (run-program ns dir (cadr parts) in out err))
  (for ([p (list out err)]) (with-handlers ([void void]) (flush-output p) (close-output-port p)))
  (close-input-port in)
  (say (format "EXIT ~a~a\n" code (if changed (string-append " CHANGED " changed) "")))
  ;; between programs: collect the last one's garbage while almost nothing of it is live, and make the
  ;; next one's namespace
  (collect-garbage 'minor)
  (loop (fresh-namespace)))
"""


# What the evaluator runs once before it serves: a program shaped like the harness's, so the first real
# program does not pay for expanding and compiling the language's common forms.
_WARMUP = (
    "#lang racket\n(define (f x [y 1]) (for/list ([i (in-range x)]) (hash-ref (hash i y) i)))\n"
    + _PRELUDE
    + '(multiplt-check 1 "f" (lambda () (f 2)) (list 1 1) 0.0 0.0)\n'
    + '(multiplt-check 2 "g" (lambda () (list (set 1.5) "s" #t)) (list (set 1.5) "s" #t) 1e-09 0.0)\n'
    + '(if (> multiplt-failed 0) (exit 1) (printf "warm\\n"))\n'
)
_EVALUATOR = _EVALUATOR.replace("WARMUP", '"' + _WARMUP.replace("\\", "\\\\").replace('"', '\\"') + '"')


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
        # a file named as the program's: `racket main.rkt` gives the programs their namespace and run-file
        warm_argv=started_from_file(_EVALUATOR, "main.rkt", "racket", "main.rkt"),
        warm_protocol="inprocess",
        # the evaluator interprets the programs' code instead of compiling it to machine code: a test
        # program runs once, and its compilation cost more than its run (same semantics; a warm
        # timeout is re-run cold)
        warm_env={"PLT_CS_COMPILE_LIMIT": "0"},
        warm_recycle_every=200,
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
