# %% [markdown]
# # multiplt, step by step
#
# A notebook-style script (cells marked `# %%`, runnable top to bottom with `python examples/walkthrough.py`
# or cell by cell in an editor) that runs each stage of the pipeline on the bundled example corpus and
# shows what flows between them. It needs what `python -m multiplt.install` sets up: the Docker engine,
# the sandbox images and the embedded model.

# %%
from pathlib import Path

import multiplt
from multiplt import compilers
from multiplt.funnel import Funnel
from multiplt.llm import get_llm
from multiplt.store import WorkStore
from multiplt.testgen import TestgenConfig, generate_tests
from multiplt.translate import TranslateConfig, prepare, translate
from multiplt.verify import verify

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "out" / "walkthrough"
OUT.mkdir(parents=True, exist_ok=True)
funnel = Funnel()
store = WorkStore(OUT / "store.sqlite")  # every generation and sandbox run is cached here

# %% [markdown]
# ## 1. Sources: commented, self-contained functions

# %%
functions = list(multiplt.load_functions(HERE / "corpus", funnel=funnel))[:4]
for fn in functions:
    print(fn.id, fn.signature)

# %% [markdown]
# ## 2. Tests: the model writes asserts; each runs alone in the Python sandbox with coverage

# %%
llm = get_llm("llamacpp")  # Qwen2.5-Coder-1.5B-Instruct on the CPU; get_llm("vllm", model=...) on a GPU
with multiplt.Sandbox(languages=["python", "racket"]) as sandbox:
    tested = generate_tests(functions, llm, sandbox, store, TestgenConfig(k=3), funnel)
    for t in tested:
        print(t.function.name, f"coverage {t.coverage:.0%}", t.types, *t.asserts, sep="\n  ")

    # %% [markdown]
    # ## 3. Translate into Racket and verify in the Racket sandbox

    # %%
    racket = compilers.get("racket")
    jobs = prepare(tested, "racket", funnel)
    print(jobs[0].prompt if jobs else "no function could be prepared")
    candidates = translate(jobs, "racket", llm, store, TranslateConfig(n=5), funnel)
    suites = {j.tested.id: j.suite for j in jobs}
    passing = verify(candidates, suites, "racket", sandbox, store, funnel)

# %%
for t in passing[:3]:
    print(t.code, end="\n\n")
print(funnel.table())

# %% [markdown]
# ## 4. Or all of it in one call, returning a `datasets.DatasetDict`

# %%
# The model loaded above is passed in, so the build does not load a second copy, and the samples it
# already drew for Racket come from the work store. The model stays loaded to the end, as in a
# notebook: it is freed at exit (or now with `llm.close()`, or scoped with `with get_llm(...) as llm:`).
ds = multiplt.build(
    ["racket", "lua"], source=HERE / "corpus", out=OUT / "dataset", llm=llm, n=5, tests_k=3, limit=4
)
print(ds)
