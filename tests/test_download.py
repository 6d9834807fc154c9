"""train/download.py: the real download code against fixtures served from 127.0.0.1 (the
canonical sources' layouts, small contents); checksums checked, nothing kept on failure."""

import dataclasses
import hashlib
import http.server
import io
import subprocess
import sys
import tarfile
import threading
import wave
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from hw.errors import UserError
from train import data
from train.download import SOURCES, download

ROOT = Path(__file__).resolve().parents[1]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """(folder served, base URL) of a local HTTP server."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _tar(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as t:
        for name, blob in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            t.addfile(info, io.BytesIO(blob))


def _wav(n: int, seed: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.random.default_rng(seed).integers(-2000, 2000, n).astype("<i2")
                      .tobytes())
    return buf.getvalue()


def _local(name: str, base: str, md5: dict) -> dict:
    """The real source of `name` with its files fetched from the local server."""
    src = SOURCES[name]
    fetches = [dataclasses.replace(f, url=f"{base}/{f.url.rsplit('/', 1)[-1]}")
               for f in src.fetches]
    return {name: dataclasses.replace(src, fetches=fetches, md5=md5)}


def _md5(*blobs: bytes) -> str:
    return hashlib.md5(b"".join(blobs)).hexdigest()


def _fsdd(root: Path) -> list[bytes]:
    names = ["3_theo_0.wav", "3_theo_5.wav", "3_theo_10.wav", "7_theo_1.wav", "7_theo_7.wav",
             "7_theo_30.wav"]
    wavs = {n: _wav(900 + 40 * i, i) for i, n in enumerate(names)}
    top = "free-spoken-digit-dataset-1.0.10"
    _tar(root / "v1.0.10.tar.gz", {f"{top}/README.md": b"fsdd\n", f"{top}/utils/x.py": b"",
                                   **{f"{top}/recordings/{n}": b for n, b in wavs.items()}})
    return [wavs[n] for n in sorted(names)]


def test_fsdd_from_its_release_archive(tmp_path, server):
    root, base = server
    wavs = _fsdd(root)
    where = download("fsdd", tmp_path / "d", progress=False,
                     sources=_local("fsdd", base, {"recordings/*": _md5(*wavs)}))
    assert where == tmp_path / "d" / "recordings"
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["recordings"]
    t = data.fsdd(where)
    assert (len(t.train), len(t.valid), len(t.test)) == (2, 2, 2)


def test_vowels_files_and_ptb_char_members(tmp_path, server, vowels_dir):
    root, base = server
    blobs = {}
    for s in ("TRAIN", "TEST"):
        blobs[s] = (vowels_dir / f"JapaneseVowels_{s}.ts").read_bytes()
        (root / f"JapaneseVowels_{s}.ts").write_bytes(blobs[s])
    md5 = {f"JapaneseVowels_{s}.ts": _md5(b) for s, b in blobs.items()}
    where = download("vowels", tmp_path / "v", progress=False, sources=_local("vowels", base, md5))
    assert len(data.vowels(where).test) == 45
    text = {s: (f"a b _ c {s[0]}\n" * 30).encode() for s in ("train", "valid", "test")}
    _tar(root / "simple-examples.tgz",
         {**{f"./simple-examples/data/ptb.char.{s}.txt": b for s, b in text.items()},
          "./simple-examples/data/ptb.train.txt": b"words\n"})
    md5 = {f"ptb.char.{s}.txt": _md5(b) for s, b in text.items()}
    where = download("ptb-char", tmp_path / "p", progress=False,
                     sources=_local("ptb-char", base, md5))
    assert sorted(p.name for p in where.iterdir()) == sorted(md5)
    assert data.char(where, seq_len=10).classes[0] == "_"


def test_a_wrong_checksum_keeps_nothing(tmp_path, server):
    root, base = server
    _fsdd(root)
    with pytest.raises(UserError, match=r"recordings/\* has md5 [0-9a-f]{32}, expected 0{32}"):
        download("fsdd", tmp_path / "d", progress=False,
                 sources=_local("fsdd", base, {"recordings/*": "0" * 32}))
    assert list((tmp_path / "d").iterdir()) == []


def test_unreachable_sources_are_one_line(tmp_path, server):
    _, base = server
    with pytest.raises(UserError, match="download of .*/v1.0.10.tar.gz failed: HTTP 404"):
        download("fsdd", tmp_path / "d", progress=False, sources=_local("fsdd", base, {}))
    with pytest.raises(UserError, match="cannot download http://127.0.0.1:9/"):
        download("fsdd", tmp_path / "d", progress=False,
                 sources=_local("fsdd", "http://127.0.0.1:9", {}))
    (tmp_path / "www" / "v1.0.10.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(UserError, match="is not a tar archive"):
        download("fsdd", tmp_path / "d", progress=False, sources=_local("fsdd", base, {}))


def test_the_canonical_sources_and_the_command_line(tmp_path):
    assert SOURCES["fsdd"].fetches[0].url.startswith(
        "https://github.com/Jakobovski/free-spoken-digit-dataset/")
    assert set(SOURCES) == {"fsdd", "vowels", "ptb-char"}
    r = subprocess.run([sys.executable, "-m", "train.data", "download", "mnist", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr == "error: unknown data set 'mnist'; choose one of fsdd, vowels, ptb-char\n"
    r = subprocess.run([sys.executable, "-m", "train.data"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.startswith("usage: python -m train.data download")
