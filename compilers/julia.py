"""Julia: typed. Vectors, tuples, Dicts and Sets carry their element types in the literal, because a
method typed `Vector{Float64}` does not accept `[]` or `[1, 2]`."""

from __future__ import annotations

from typing import Any, ClassVar

from multiplt.sandboxes.runtimes import Runtime, started_from_file

from multiplt.pytypes import ANY, DictT, ListT, OptionalT, Prim, SetT, TupleT, Type, UnionT, VarTupleT, infer

from ._strings import escape
from .base import Check, Language

_PRELUDE = r"""
function multiplt_num_eq(a, b, rel, abs_tol)
    (isnan(a) && isnan(b)) && return true
    (isnan(a) || isnan(b)) && return false
    a == b && return true
    (isinf(a) || isinf(b)) && return false
    (rel == 0 && abs_tol == 0) && return false
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_tol)
end
function multiplt_eq(a, b, rel, abs_tol)
    if a isa Bool || b isa Bool
        return a isa Bool && b isa Bool && a == b
    elseif a isa Real && b isa Real
        return multiplt_num_eq(a, b, rel, abs_tol)
    elseif a isa AbstractString && b isa AbstractString
        return a == b
    elseif a === nothing || b === nothing
        return a === b
    elseif (a isa AbstractVector && b isa AbstractVector) || (a isa Tuple && b isa Tuple)
        return length(a) == length(b) && all(multiplt_eq(x, y, rel, abs_tol) for (x, y) in zip(a, b))
    elseif a isa AbstractDict && b isa AbstractDict
        length(a) == length(b) || return false
        for (k, v) in b
            haskey(a, k) || return false
            multiplt_eq(a[k], v, rel, abs_tol) || return false
        end
        return true
    elseif a isa AbstractSet && b isa AbstractSet
        return length(a) == length(b) && all(x -> x in a, b)
    end
    return false
end
const multiplt_failed = Ref(0)
function multiplt_check(i, text, thunk, expected, rel, abs_tol)
    try
        actual = thunk()
        if !multiplt_eq(actual, expected, rel, abs_tol)
            multiplt_failed[] += 1
            println(stderr, "FAIL ", i, ": ", text, " -- got ", repr(actual))
        end
    catch e
        multiplt_failed[] += 1
        println(stderr, "FAIL ", i, ": ", text, " -- raised: ", sprint(showerror, e))
    end
end
"""


# The warm evaluator: Julia starts once per container, with the interpreter instead of the compiler
# (`--compile=min`: a test program runs once, and compiling it cost ten times its run; the same
# semantics, and a warm timeout is re-run cold), and runs each program in-process, in a fresh module
# named Main (see the runner's `Evaluator`). A fork per program is not possible: Julia's JIT shares its
# code memory with a forked child, which crashes it. The module's `exit` ends only the program, and a
# program whose exit was swallowed by its own `try` is re-run cold (a cold exit cannot be caught).
# What guards the next program is a check of what this one changed, not of what it wrote: every
# method added to or removed from any method table moves Julia's world counter by one, so after the
# program the evaluator counts the methods that appeared in tables its own module owns (its functions,
# closures, keyword sorters, constructors of its types, its submodules'); any other step of the counter
# is a method the program left in a shared table (a Base function reached through a value, a qualified
# name, code built from strings), and the evaluator answers CHANGED: the runner replaces it and runs the
# program cold, whose verdict counts. A changed environment or a replaced or closed standard stream
# also replaces the evaluator. Reading the program first stays as a fast path: one that names what
# could reach beyond its module (Base, Core, eval, ccall, tasks, ...) is sent cold at once, sparing the
# evaluator a restart; raw memory writes (pointers, ccall) are refused only there, since no check after
# the fact can see them. MULTIPLT_EFFECT_CHECK=off in the evaluator's environment turns the count off
# (for the tests that show what it catches); the evaluator removes it before any program runs.
_EVALUATOR = r"""# multiplt: the warm evaluator of Julia
struct MultipltWarmExit <: Exception
    code::Int
    nth::Int
end
const reaching = r"\b(Base|Core|Main|eval|include|include_string|ccall|cglobal|llvmcall|unsafe_\w*|pointer|Ptr|ENV|cd|redirect_stdout|redirect_stderr|redirect_stdin|atexit|finalizer|Threads|Task|Timer|schedule|yield|Channel|Condition|notify|wait|asyncmap|Libc|Libdl|typeof|parentmodule|getfield|setfield!|getproperty|setproperty!|Symbol|Expr|Meta|invokelatest|invoke|methods|which|Distributed|Sockets|run|pipeline|Cmd|exit_on_sigint|disable_sigint|reenable_sigint|PROGRAM_FILE|ARGS|DEPOT_PATH|LOAD_PATH|import)\b|@async|@spawn|@sync|@task|@eval|@__MODULE__|@generated|@ccall|@threads|`"
# undumpable: a process started by a program, as the same user, cannot ptrace it or write its memory
ccall(:prctl, Cint, (Cint, Culong, Culong, Culong, Culong), 4, 0, 0, 0, 0)
const home = pwd()
const saved = (stdout, stderr, stdin)
const effect_check = get(ENV, "MULTIPLT_EFFECT_CHECK", "on") != "off"
delete!(ENV, "MULTIPLT_EFFECT_CHECK")
# Type{X} in a constructor's signature, X one of the program's types
function constructs(meth::Method, name::Core.TypeName)
    sig = Base.unwrap_unionall(meth.sig)
    sig isa DataType && length(sig.parameters) >= 1 || return false
    head = sig.parameters[1]
    head isa DataType && head.name === Type.body.name || return false
    made = Base.unwrap_unionall(head.parameters[1])
    return made isa DataType && made.name === name
end
# The distinct methods defined since world w0 in tables that m, or a module m made, owns
function own_methods(m::Module, w0::UInt)
    found = Base.IdSet{Method}()
    tables = Base.IdSet{Any}()
    mods = Module[m]
    while !isempty(mods)
        mod = pop!(mods)
        for s in names(mod, all = true)
            isdefined(mod, s) || continue
            v = getfield(mod, s)
            if v isa Module
                v !== mod && parentmodule(v) === mod && push!(mods, v)
                continue
            end
            T = v isa Function ? typeof(v) : v isa Type ? Base.unwrap_unionall(v) : nothing
            T isa DataType && T.name.module === mod || continue
            push!(tables, T.name.mt)
            isdefined(T.name.mt, :kwsorter) && push!(tables, typeof(T.name.mt.kwsorter).name.mt)
            v isa Type && !(T <: Function) || continue  # a function's type has no constructors to find
            for (_, _, meth) in Base._methods_by_ftype(Tuple{Type{<:v}, Vararg{Any}}, -1, typemax(UInt))
                meth.primary_world > w0 && constructs(meth, T.name) && push!(found, meth)
            end
        end
    end
    for mt in tables, meth in Base.MethodList(mt)
        meth.primary_world > w0 && push!(found, meth)
    end
    return length(found)
end
# The check runs after every program: compile it to machine code once, here (the programs are
# interpreted, --compile=min, and so would it be: interpreted it cost more than the program), by
# lifting the compile mode for one call on a module shaped like the programs'; compiled code, once
# there, is what later calls run.
let mode = Ptr{Int8}(cglobal(:jl_options)) + fieldoffset(Base.JLOptions, findfirst(==(:compile_enabled), fieldnames(Base.JLOptions)))
    before = unsafe_load(mode)
    unsafe_store!(mode, Int8(1))
    try
        shaped = Module(:Main)
        Core.eval(shaped, :(f(x) = x + 1))
        Core.eval(shaped, :(g(x; y = 1) = map(z -> z + y, x)))
        Core.eval(shaped, :(struct P{T}
            a::T
        end))
        Core.eval(shaped, :(module Sub
        h() = 1
        end))
        own_methods(shaped, UInt(0))
    finally
        unsafe_store!(mode, before)
    end
end
function run_program(dir::String, file::String)
    # -> (code, verdict): verdict is "" (served), "COLD" (run it cold instead), "RECYCLE" or
    # "CHANGED what" (it changed the evaluator: replace it and run the program cold)
    path = joinpath(dir, file)
    text = read(path, String)
    occursin(reaching, text) && return (0, "COLD")
    env = copy(ENV)
    m = Module(:Main)
    exits = Ref(0)
    Core.eval(m, :(eval(x) = Core.eval($m, x)))
    Core.eval(m, :(include(x) = Base.include($m, x)))
    Core.eval(m, :(function exit(code::Integer = 0)
        $exits[] += 1
        throw($MultipltWarmExit(code, $exits[]))
    end))
    w0 = Base.get_world_counter()
    cd(dir)
    ENV["HOME"] = dir
    code = 0
    caught = false
    try
        Base.include(m, path)
    catch e
        inner = e
        while inner isa LoadError
            inner = inner.error
        end
        if inner isa MultipltWarmExit
            code = inner.code
            caught = inner.nth == 1
        else
            Base.display_error(stderr, e, catch_backtrace())
            code = 1
        end
    end
    flush(stdout)
    flush(stderr)
    if effect_check && Base.get_world_counter() - w0 != own_methods(m, w0)
        return (code & 0xff, "CHANGED methods")  # a method outside its module: replace me, run it cold
    end
    exits[] > 0 && !caught && return (code, "COLD")  # the program caught an exit: cold would have ended there
    ENV["HOME"] = home
    cd(home)
    changed = ENV != env || (stdout, stderr, stdin) != saved || !all(isopen, saved)
    return (code & 0xff, changed ? "RECYCLE" : "")
end
cmd = fdio(3, false)
answers = fdio(4, false)
mkpath(joinpath(home, "warmup"))
write(joinpath(home, "warmup", "main.jl"), WARMUP)
run_program(joinpath(home, "warmup"), "main.jl")
write(answers, "READY\n")
flush(answers)
while !eof(cmd)
    parts = split(readline(cmd), '\t')
    code, verdict = run_program(String(parts[1]), String(parts[2]))
    write(answers, "EXIT $code $verdict\n")
    flush(answers)
end
"""


# What the evaluator runs once before it serves: a program shaped like the harness's, without output.
_WARMUP = (
    "function f(x::Vector{Int64}, y::Int64=1)::Vector{Float64}\n    return [i * y + 0.5 for i in x]\nend\n"
    + _PRELUDE
    + 'multiplt_check(1, "f", () -> f([1, 2]), Float64[1.5, 2.5], 1e-09, 0.0)\n'
    + 'multiplt_check(2, "g", () -> Dict{String, Int64}("a" => 1), Dict{String, Int64}("a" => 1), 0.0, 0.0)\n'
    + 'multiplt_check(3, "h", () -> (Set{Int64}([1]), "s", true, nothing), (Set{Int64}([1]), "s", true, nothing), 0.0, 0.0)\n'
)
_EVALUATOR = _EVALUATOR.replace(
    "WARMUP", '"' + _WARMUP.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'
)


class Julia(Language):
    name = "julia"
    display_name = "Julia"
    non_finite = ("NaN", "Inf", "-Inf")
    runtime = Runtime(
        "julia",
        "main.jl",
        ("julia", "main.jl"),
        "julia.Dockerfile",
        memory_mb=1024,
        timeout_s=30.0,
        version_argv=("julia", "--version"),
        address_space_limit_ok=False,
        # a file named as the program's: `julia main.jl` gives PROGRAM_FILE and the module's shape
        warm_argv=started_from_file(_EVALUATOR, "main.jl", "julia", "--compile=min", "main.jl"),
        warm_protocol="inprocess",
        warm_recycle_every=500,
    )
    typed = True
    stop_sequences: ClassVar[list[str]] = ["\nfunction ", "\nmacro ", '\n"""', "\n#", "\n```", "\nprintln("]
    grammar = "julia"
    function_kinds = frozenset({"function_definition"})
    line_comment = "#"
    sig_pattern = r"^function "
    has_defaults = True
    unit_stop_sequences: ClassVar[list[str]] = ["\n```", "\nprintln("]
    definition_pattern = r"(?:function\s+([A-Za-z_]\w*)|(?:const\s+)?([A-Za-z_]\w*)\s*=)"
    reserved = frozenset(
        "baremodule begin break catch const continue do else elseif end export false finally for function "
        "global if import let local macro module quote return struct true try using while abstract mutable "
        "primitive type where in isa".split()
    )
    words: ClassVar[dict[str, str]] = {
        "lists": "vectors",
        "list": "vector",
        "dictionaries": "dictionaries",
        "dict": "Dict",
        "None": "nothing",
        "True": "true",
        "False": "false",
    }

    def int_lit(self, v: int) -> str:
        return "typemin(Int64)" if v == -(2**63) else str(v)

    def str_lit(self, v: str) -> str:
        return '"' + escape(v, _julia_escape, {"$": "\\$"}) + '"'

    def none_lit(self, t: Type) -> str:
        return "nothing"

    def any_value(self, v: Any) -> str:
        return self.value(v, infer(v))

    def list_lit(self, items: list[str], t: ListT) -> str:
        return f"{self.type_name(t.elem)}[{', '.join(items)}]"

    def tuple_lit(self, items: list[str], t: TupleT) -> str:
        if len(items) == 1:
            return f"({items[0]},)"
        return f"({', '.join(items)})"

    def set_lit(self, items: list[str], t: SetT) -> str:
        return f"Set{{{self.type_name(t.elem)}}}([{', '.join(items)}])"

    def dict_lit(self, pairs: list[tuple[str, str]], t: DictT) -> str:
        inner = ", ".join(f"{k} => {v}" for k, v in pairs)
        return f"Dict{{{self.type_name(t.key)}, {self.type_name(t.value)}}}({inner})"

    def type_name(self, t: Type) -> str:
        match t:
            case Prim(name):
                return {
                    "int": "Int64",
                    "float": "Float64",
                    "bool": "Bool",
                    "str": "String",
                    "None": "Nothing",
                }.get(name, "Any")
            case ListT(e):
                return f"Vector{{{self.type_name(e)}}}"
            case VarTupleT(e):
                return f"Tuple{{Vararg{{{self.type_name(e)}}}}}"
            case TupleT(es):
                return f"Tuple{{{', '.join(self.type_name(e) for e in es)}}}"
            case DictT(k, v):
                return f"Dict{{{self.type_name(k)}, {self.type_name(v)}}}"
            case SetT(e):
                return f"Set{{{self.type_name(e)}}}"
            case OptionalT(i):
                return f"Union{{{self.type_name(i)}, Nothing}}"
            case UnionT(os):
                return f"Union{{{', '.join(self.type_name(o) for o in os)}}}"
        return "Any"

    def doc_comment(self, doc: str) -> str:
        if not doc.strip():
            return ""
        body = escape(doc, lambda c: c, {"\n": "\n", "\t": "\t", "$": "\\$"})
        return '"""\n' + "".join(f"    {line}".rstrip() + "\n" for line in body.splitlines()) + '"""\n'

    def signature(
        self, name: str, params: list[str], types: list[Type] | None, defaults: list[str | None] | None = None
    ) -> str:
        defaults = defaults or [None] * len(params)
        if types is None:
            args = list(params)
            ret = ""
        else:
            args = [
                p if t == ANY else f"{p}::{self.type_name(t)}" for p, t in zip(params, types, strict=False)
            ]
            ret = "" if types[-1] == ANY else f"::{self.type_name(types[-1])}"
        args = [a if d is None else f"{a}={d}" for a, d in zip(args, defaults, strict=True)]
        return f"function {name}({', '.join(args)}){ret}\n"

    def completion_returning(self, expr: str) -> str:
        return f"    return {expr}\nend\n"

    harness_prelude = _PRELUDE

    def check_call(self, c: Check) -> str:
        return (
            f"multiplt_check({c.index}, {self.str_lit(c.source)}, () -> {c.call}, {c.expected}, "
            f"{c.rel_tol!r}, {c.abs_tol!r})"
        )

    def harness_end(self, mark: str) -> str:
        return f'multiplt_failed[] > 0 && exit(1)\nprintln("{mark}")'


def _julia_escape(c: str) -> str:
    return f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}"
