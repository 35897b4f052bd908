"""Racket's warm evaluator runs each program in-process (a fork per program was measured at under half
the gain), so isolation is its own work: a thread and custodian per program, fresh parameters, a fresh
namespace, and a replacement evaluator after anything it cannot vouch for. Each attack is followed by a
correct program that must pass and a wrong one that must fail, served warm by the same container.
"""

from __future__ import annotations

import pytest
from warm_checks import LEFT_FILES, attack_then_right_and_wrong, both_modes, shell_attacks, warm_sandbox

pytestmark = pytest.mark.docker

# Both check what an attack could have left behind: an environment variable, a printing parameter,
# the directory, the exit handler, the ports.
_CHECKED = (
    "#lang racket\n(define (f x) (+ x {k}))\n"
    '(unless (and (equal? (f 1) 2) (not (getenv "MULTIPLT_POLLUTED")) (print-as-expression)\n'
    '             (equal? (path->string (current-directory)) "/scratch/run/")\n'
    '             (equal? (string-replace "cat" "c" "b") "bat")\n'
    f"             (not (ormap file-exists? (list {' '.join(chr(34) + p + chr(34) for p in LEFT_FILES)}))))\n"
    "  (exit 1))\n"
    '(printf "ok\\n")\n'
)
RIGHT = _CHECKED.format(k=1)
WRONG = _CHECKED.format(k=2)

ATTACKS = {
    "kill the evaluator": '#lang racket\n(system "kill -9 $PPID")\n',
    "stop the evaluator": '#lang racket\n(system "kill -STOP $PPID")\n(printf "resumed\\n")\n',
    "write into its memory": "#lang racket\n"
    '(system "python3 -c \'import sys; open(\\"/proc/\\" + sys.argv[1] + \\"/mem\\", \\"r+b\\")'
    '.write(b\\"x\\"); print(\\"wrote\\")\' $PPID")\n',
    "corrupt its parameters": "#lang racket\n"
    "(print-as-expression #f)\n(exit-handler void)\n(error-display-handler void)\n"
    '(current-directory "/")\n(putenv "MULTIPLT_POLLUTED" "1")\n(random-seed 1)\n'
    '(current-namespace (make-base-namespace))\n(current-command-line-arguments (vector "x"))\n'
    "(close-output-port (current-error-port))\n(current-output-port (open-output-nowhere))\n",
    "redefine +, equal? and exit": "#lang racket\n(define (+ a b) 2)\n(define (equal? a b) #t)\n"
    "(define (exit . _) (void))\n(set! f (lambda (x) 2))\n(define (f x) x)\n",
    "leave a thread running": "#lang racket\n(void (thread (lambda () (let loop () (sleep 0.05)\n"
    '  (putenv "MULTIPLT_POLLUTED" "1") (printf "ok\\n") (flush-output) (loop)))))\n',
    "leave a subprocess writing": '#lang racket\n(void (system "(sleep 0.3; echo ok) &"))\n',
    "change the evaluator through the FFI": "#lang racket\n(require ffi/unsafe)\n"
    '((get-ffi-obj "setenv" #f (_fun _string _string _int -> _int)) "MULTIPLT_POLLUTED" "1" 1)\n'
    '((get-ffi-obj "chdir" #f (_fun _string -> _int)) "/")\n',
    "shut its own custodian down": "#lang racket\n(custodian-shutdown-all (current-custodian))\n",
    "exit from another thread": '#lang racket\n(thread-wait (thread (lambda () (exit 0))))\n(printf "ok\\n")\n',
    "exhaust memory": "#lang racket\n(let loop ([l '()]) (loop (cons (make-bytes 50000000 1) l)))\n",
    "hang": "#lang racket\n(let loop () (loop))\n",
    # a shared module's own state: racket/string's cache of patterns, so that "c" is replaced as "a"
    "enter a shared module": "#lang racket\n(define ns (module->namespace 'racket/string))\n"
    '(eval \'(define kept (list "c")) ns)\n(eval \'(hash-set! replace-cache (car kept) #rx"a") ns)\n',
    "enter a shared module through built code": "#lang racket\n"
    '(define enter (eval (string->symbol (string-append "module->" "namespace"))))\n'
    "(define ns (with-handlers ([void (lambda (e) #f)]) (enter 'racket/string)))\n"
    '(when ns (eval \'(hash-set! replace-cache "c" #rx"a") ns))\n(printf "ok\\n")\n',
    "leave a thread that a kill only suspends": "#lang racket\n(void (thread/suspend-to-kill (lambda ()\n"
    '  (let loop () (sleep 0.05) (putenv "MULTIPLT_POLLUTED" "1") (loop)))))\n',
    "write into its own memory": "#lang racket\n"
    '(define o (open-output-file "/proc/self/mem" #:exists \'update))\n(write-bytes #"x" o)\n(printf "wrote\\n")\n',
    **shell_attacks("racket"),
}


@pytest.fixture(scope="module")
def warm(require_docker):
    yield from warm_sandbox(require_docker, "racket")


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_attack_on_the_racket_evaluator_costs_only_itself(warm, name):
    attack, _, _ = attack_then_right_and_wrong(warm, "racket", ATTACKS[name], RIGHT, WRONG, 20)
    if name in ("write into its memory", "write into its own memory"):
        assert "wrote" not in attack.stdout, attack  # undumpable: the kernel refuses, even to itself
    if name == "hang":  # a warm timeout is the cold run's verdict to give: it was re-run cold
        assert attack.status == "timeout" and warm.warm_fallbacks[-1].startswith("timed out warm"), attack
    if name == "exhaust memory":
        assert attack.status in ("oom", "crashed", "fail"), attack


# Programs whose every observable differs if the in-process run is not the cold run's twin: the top
# level's bindings, submodules, errors, raised non-exceptions, exit codes, stderr, run-file, paths.
EDGES = [
    '#lang racket\n(define (f x) (+ x 1))\n(unless (equal? (f 1) 2) (exit 1))\n(printf "ok\\n")\n',
    '#lang racket\n(car \'())\n(printf "not reached\\n")\n',
    "#lang racket\n(displayln (with-handlers ([void exn-message]) (eval '(+ 1 2))))\n"
    '(module+ main (displayln "main"))\n(module+ test (displayln "test"))\n',
    "#lang racket\n(raise 42)\n",
    '#lang racket\n(eprintf "x")\n',
    "#lang racket\n(exit 7)\n",
    "#lang racket\n(exit 'not-a-code)\n",
    '#lang racket\n(printf "partial")\n(exit 3)\n',
    '#lang racket\n(print (list 1 "a" \'b))\n(newline)\n(write (hash 1 2))\n',
    '#lang racket\n(displayln (list (current-command-line-arguments) (current-directory) (getenv "HOME")\n'
    "  (find-system-path 'temp-dir) (find-system-path 'run-file) (find-system-path 'home-dir)))\n",
    '#lang racket\n(define t (thread (lambda () (car \'()))))\n(thread-wait t)\n(printf "ok\\n")\n',
    '#lang racket\n(displayln (read-line))\n(displayln (system "pwd"))\n',
    "#lang racket/base\n(require racket/list)\n(displayln (first (list 1 2)))\n",
    '#lang racket\n(with-output-to-file "x.txt" (lambda () (display "data")))\n(display (file->string "x.txt"))\n',
]


def test_cold_and_warm_runs_are_the_same(require_docker):
    require_docker(["racket"])
    # stderr's text differs only in the error context's stack lines; whether there is any is the verdict
    seen = both_modes("racket", EDGES, 30)
    assert seen["cold"] == seen["warm"]
