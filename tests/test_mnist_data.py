"""The MNIST data root checked file by file (avalanche_neuromod.benchmarks.mnist_files, issue 19).

Corrupted copies are built in ``tmp_path`` (the good files are symlinked, the damaged one is
written); the shared data folder is only read. Each damage is one DataRootError line naming the
file and what is wrong; through the CLI it is exit code 2 with existing outputs untouched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_cli import assert_one_line_error

from avalanche_neuromod.benchmarks import mnist_files
from avalanche_neuromod.benchmarks.mnist import resolve_data_root
from avalanche_neuromod.benchmarks.mnist_files import (
    CHECKSUMS,
    MNIST_IDX,
    check_mnist_files,
    expected_size,
)
from avalanche_neuromod.cli import main
from avalanche_neuromod.errors import DataRootError

LABELS = "train-labels-idx1-ubyte"
IMAGES = "t10k-images-idx3-ubyte"


def _root(tmp_path: Path, mnist_root: Path, *, damaged: dict[str, bytes] | None = None,
          checksums: bool = True) -> Path:
    root = tmp_path / "data"
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_IDX:
        source = mnist_root / "MNIST" / "raw" / name
        if damaged and name in damaged:
            (raw / name).write_bytes(damaged[name])
        else:
            (raw / name).symlink_to(source)
    if checksums and (mnist_root / CHECKSUMS).is_file():
        shutil.copy(mnist_root / CHECKSUMS, root / CHECKSUMS)
    return root


def _good(mnist_root: Path, name: str) -> bytes:
    return (mnist_root / "MNIST" / "raw" / name).read_bytes()


def _damage(kind: str, data: bytes) -> bytes:
    if kind == "truncated":
        return data[: len(data) // 2]
    if kind == "header-only":
        return data[:8]
    if kind == "zeroed":
        return bytes(len(data))
    if kind == "garbage":
        return bytes((i * 37 + 11) % 256 for i in range(len(data)))
    if kind == "too-long":
        return data + b"\0" * 10
    if kind == "other-dimensions":
        return data[:4] + (59999).to_bytes(4, "big") + data[8:]
    if kind == "flipped-label":
        return data[:100] + bytes([(data[100] + 1) % 10]) + data[101:]
    raise AssertionError(kind)


CASES = [
    ("truncated", LABELS, "truncated: 30004 bytes, expected 60008"),
    ("header-only", LABELS, "truncated: 8 bytes, expected 60008"),
    ("zeroed", LABELS, "zeroed: its header is all zeros"),
    ("garbage", LABELS, "not an MNIST IDX file (garbage?): magic 0x0b30557a, expected 0x00000801"),
    ("too-long", LABELS, "too long: 60018 bytes, expected 60008"),
    ("other-dimensions", LABELS, "dimensions (59999,), expected (60000,)"),
    ("flipped-label", LABELS, "checksum mismatch with"),
    ("truncated", IMAGES, "truncated: 3920008 bytes, expected 7840016"),
    ("zeroed", IMAGES, "zeroed"),
]


@pytest.mark.parametrize(("kind", "name", "needle"), CASES,
                         ids=[f"{k}-{n.split('-')[0]}-{n.split('-')[1]}" for k, n, _ in CASES])
def test_a_damaged_file_is_one_error_naming_it(kind, name, needle, tmp_path, mnist_root):
    root = _root(tmp_path, mnist_root, damaged={name: _damage(kind, _good(mnist_root, name))})
    with pytest.raises(DataRootError) as info:
        resolve_data_root(root)
    message = str(info.value)
    assert message.startswith(f"dataset_root: {root / 'MNIST' / 'raw' / name}: ")
    assert needle in message and "\n" not in message


def test_without_a_checksum_list_the_headers_are_still_checked(tmp_path, mnist_root):
    flipped = _damage("flipped-label", _good(mnist_root, LABELS))
    root = _root(tmp_path, mnist_root, damaged={LABELS: flipped}, checksums=False)
    assert resolve_data_root(root) == root  # a changed label has a valid header and size
    zeroed = _root(tmp_path / "z", mnist_root, damaged={LABELS: bytes(60008)}, checksums=False)
    with pytest.raises(DataRootError, match="zeroed"):
        resolve_data_root(zeroed)


def test_a_malformed_checksum_list_is_named(tmp_path, mnist_root):
    root = _root(tmp_path, mnist_root)
    (root / CHECKSUMS).write_text("not a checksum line\n")
    with pytest.raises(DataRootError, match=rf"{CHECKSUMS} line 1 is not '<md5>  <file>'"):
        resolve_data_root(root)


def test_the_shared_data_passes_and_sizes_are_the_published_ones(mnist_root):
    assert resolve_data_root(mnist_root) == mnist_root
    for name in MNIST_IDX:
        assert (mnist_root / "MNIST" / "raw" / name).stat().st_size == expected_size(name)


def test_checksums_are_computed_once_per_file_until_it_changes(tmp_path, mnist_root,
                                                              monkeypatch):
    labels = _good(mnist_root, LABELS)
    root = _root(tmp_path, mnist_root, damaged={LABELS: labels})
    calls = []
    real = mnist_files._md5
    monkeypatch.setattr(mnist_files, "_md5", lambda path: calls.append(path.name) or real(path))
    check_mnist_files(root)
    first = calls.count(LABELS)
    for _ in range(5):
        check_mnist_files(root)
    assert first == 1 and calls.count(LABELS) == 1  # cached by path, size and mtime
    path = root / "MNIST" / "raw" / LABELS
    path.write_bytes(_damage("flipped-label", labels))  # same size, new mtime
    with pytest.raises(DataRootError, match="checksum mismatch"):
        check_mnist_files(root)


def test_the_tensor_loader_checks_before_torchvision_reads(tmp_path, mnist_root):
    from avalanche_neuromod.benchmarks.tensor_mnist import mnist_tensors

    root = _root(tmp_path, mnist_root,
                 damaged={IMAGES: _damage("truncated", _good(mnist_root, IMAGES))})
    with pytest.raises(DataRootError, match=r"t10k-images-idx3-ubyte: truncated"):
        mnist_tensors(str(root))


def test_cli_names_the_damaged_file_exits_2_and_keeps_outputs(tmp_path, mnist_root, capsys):
    root = _root(tmp_path, mnist_root,
                 damaged={LABELS: _damage("garbage", _good(mnist_root, LABELS))})
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: m\nseeds: 1\nbenchmarks: [{name: split_mnist, label: m}]\n"
                     "strategies: [naive]\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.jsonl").write_text('{"key": "kept"}\n')
    rc = main(["leaderboard", str(suite), "--out", str(out), "--data-root", str(root),
               "--no-progress"])
    captured = capsys.readouterr()
    assert_one_line_error(rc, captured.out, captured.err,
                          f"{root / 'MNIST' / 'raw' / LABELS}: not an MNIST IDX file")
    assert sorted(p.name for p in out.iterdir()) == ["results.jsonl"]
    assert (out / "results.jsonl").read_text() == '{"key": "kept"}\n'
