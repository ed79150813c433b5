"""The four MNIST IDX files of a data root, checked file by file before anything reads them.

Each file must have its exact size and IDX header (LeCun et al.'s format: a big-endian magic
``0x00000803`` for images or ``0x00000801`` for labels, then one 4-byte size per dimension), and,
when the root holds a checksum list (``<root>/MNIST.md5``, lines ``<md5>  MNIST/raw/<file>`` as
``md5sum`` writes them), its MD5. An error names the file and what is wrong (missing, truncated,
too long, zeroed, not an IDX file, other dimensions, checksum mismatch), where torchvision would
say ``shape '[60000, 28, 28]' is invalid for input of size ...`` or read garbage silently.

The MD5 of the 55 MB costs ~0.3 s: each file is checked once per process, keyed by its path,
size and modification time (later checks ~1 ms; docs/reliability.md, section 4).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..errors import DataRootError

# name -> (magic, dimensions): the published MNIST files
MNIST_IDX = {
    "train-images-idx3-ubyte": (0x00000803, (60000, 28, 28)),
    "train-labels-idx1-ubyte": (0x00000801, (60000,)),
    "t10k-images-idx3-ubyte": (0x00000803, (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": (0x00000801, (10000,)),
}
CHECKSUMS = "MNIST.md5"
_CHECKED: set[tuple[str, int, int, str | None]] = set()


def expected_size(name: str) -> int:
    _, dims = MNIST_IDX[name]
    size = 1
    for d in dims:
        size *= d
    return 4 + 4 * len(dims) + size


def _checksums(root: Path) -> dict[str, str]:
    """``{file name: md5}`` from ``<root>/MNIST.md5`` (empty when there is none)."""
    path = root / CHECKSUMS
    if not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataRootError(f"dataset_root: cannot read {path} ({err})") from None
    out = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"([0-9a-fA-F]{32}) [ *](.+)", line.strip())
        if match is None:
            raise DataRootError(f"dataset_root: {path} line {number} is not '<md5>  <file>'")
        out[Path(match.group(2)).name] = match.group(1).lower()
    return out


def _header_problem(name: str, head: bytes, size: int) -> str | None:
    magic, dims = MNIST_IDX[name]
    want = expected_size(name)
    n = 4 + 4 * len(dims)
    if size < n:
        return f"truncated: {size} bytes, expected {want}"
    if not any(head[:n]):
        return "zeroed: its header is all zeros (expected an IDX header)"
    found = int.from_bytes(head[:4], "big")
    if found != magic:
        return (f"not an MNIST IDX file (garbage?): magic 0x{found:08x}, expected "
                f"0x{magic:08x}")
    shape = tuple(int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(len(dims)))
    if shape != dims:
        return f"dimensions {shape}, expected {dims}"
    if size < want:
        return f"truncated: {size} bytes, expected {want}"
    if size > want:
        return f"too long: {size} bytes, expected {want}"
    return None


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_mnist_files(root: str | os.PathLike) -> None:
    """Check ``<root>/MNIST/raw``'s four files (DataRootError naming the file, one line)."""
    root = Path(root)
    raw = root / "MNIST" / "raw"
    sums = None
    for name in MNIST_IDX:
        path = raw / name
        try:
            stat = path.stat()
        except OSError:
            raise DataRootError(f"dataset_root: {root} has no MNIST (missing {path}); point "
                                "dataset_root or $AVALANCHE_NEUROMOD_DATA at a folder with "
                                "MNIST/raw/") from None
        if sums is None:
            sums = _checksums(root)
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, sums.get(name))
        if key in _CHECKED:
            continue
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
        except OSError as err:
            raise DataRootError(f"dataset_root: {path}: cannot read ({err.strerror})") from None
        problem = _header_problem(name, head, stat.st_size)
        if problem is None and name in sums and _md5(path) != sums[name]:
            problem = (f"checksum mismatch with {root / CHECKSUMS} (corrupted, or another "
                       "file)")
        if problem is not None:
            raise DataRootError(f"dataset_root: {path}: {problem}")
        _CHECKED.add(key)


__all__ = ["CHECKSUMS", "MNIST_IDX", "check_mnist_files", "expected_size"]
