"""`python -m train.data download fsdd|vowels|ptb-char DIR`: fetch a data set from its canonical
source, check it, and put it where `--data` expects it.

Each data set is a list of archives or files at their canonical addresses and the MD5 of what
ends up in DIR (the checksums of the copies every figure in docs/ was measured on). Everything
is fetched and checked in DIR/.partial-NAME first and moved into place only when every checksum
matches, so an interrupted or failed download leaves nothing that looks complete. `--data`
then takes DIR/recordings (fsdd), DIR (vowels) or DIR (ptb-char).
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from hw.errors import UserError

FSDD_ALL_WAVS_MD5 = "2c93442f2c808e24d4d913f6be24d32c"  # every wav, sorted by name, concatenated


@dataclass
class Fetch:
    url: str
    members: dict[str, str] = field(default_factory=dict)  # archive path -> path in DIR
    glob: tuple[str, str] | None = None  # (archive folder, DIR folder): every file in it
    target: str | None = None  # a plain file: its path in DIR


@dataclass
class Source:
    fetches: list[Fetch]
    md5: dict[str, str]  # path in DIR (or FOLDER/* for the sorted concatenation) -> md5
    data_arg: str  # what --data takes, relative to DIR


SOURCES = {
    "fsdd": Source(
        [Fetch("https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/"
               "v1.0.10.tar.gz",
               glob=("free-spoken-digit-dataset-1.0.10/recordings", "recordings"))],
        {"recordings/*": FSDD_ALL_WAVS_MD5}, "recordings"),
    "vowels": Source(
        [Fetch("https://raw.githubusercontent.com/sktime/sktime/v0.24.0/sktime/datasets/data/"
               f"JapaneseVowels/JapaneseVowels_{s}.ts", target=f"JapaneseVowels_{s}.ts")
         for s in ("TRAIN", "TEST")],
        {"JapaneseVowels_TRAIN.ts": "9165e3eec783ac6342d658685c864d19",
         "JapaneseVowels_TEST.ts": "14d15214e3ab6ac39ab2d48901d3e2a3"}, "."),
    "ptb-char": Source(
        [Fetch("http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz",
               members={f"./simple-examples/data/ptb.char.{s}.txt": f"ptb.char.{s}.txt"
                        for s in ("train", "valid", "test")})],
        {"ptb.char.train.txt": "874909f99060142f6b88cc74c34baaa2",
         "ptb.char.valid.txt": "9e0fe5bec2a8bf43fd686dc23d5ab8bb",
         "ptb.char.test.txt": "1f9a2d1afe00f76e8bfbe09a65439681"}, "."),
}


def _get(url: str, progress: bool, timeout: float = 60.0) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            total = int(r.headers.get("Content-Length") or 0) or None
            buf = io.BytesIO()
            with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1],
                      disable=not progress, leave=False) as bar:
                while chunk := r.read(1 << 16):
                    buf.write(chunk)
                    bar.update(len(chunk))
            return buf.getvalue()
    except urllib.error.HTTPError as e:
        raise UserError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", None) or e
        raise UserError(f"cannot download {url}: {reason}") from None


def _unpack(blob: bytes, fetch: Fetch, into: Path) -> None:
    try:
        tar = tarfile.open(fileobj=io.BytesIO(blob), mode="r:*")
    except tarfile.TarError:
        raise UserError(f"{fetch.url} is not a tar archive") from None
    with tar:
        names = {m.name: m for m in tar.getmembers() if m.isfile()}
        wanted = dict(fetch.members)
        if fetch.glob is not None:
            src, dst = fetch.glob
            wanted.update({n: f"{dst}/{n[len(src) + 1:]}" for n in names
                           if n.startswith(src + "/") and "/" not in n[len(src) + 1:]})
        missing = [n for n in fetch.members if n not in names]
        if missing or not wanted:
            raise UserError(f"{fetch.url} lacks {missing[0] if missing else fetch.glob[0]}")
        for name, rel in wanted.items():
            out = into / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(tar.extractfile(names[name]).read())  # no paths from the archive


def _md5(paths: list[Path]) -> str:
    h = hashlib.md5()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def download(name: str, dest, *, sources: dict | None = None, progress: bool = True) -> Path:
    """Fetch data set `name` into `dest`; returns the path to give as --data."""
    sources = SOURCES if sources is None else sources
    if name not in sources:
        raise UserError(f"unknown data set {name!r}; choose one of {', '.join(sources)}")
    src, dest = sources[name], Path(dest)
    if dest.exists() and not dest.is_dir():
        raise UserError(f"{dest} is a file; give a folder")
    part = dest / f".partial-{name}"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    try:
        for f in src.fetches:
            blob = _get(f.url, progress)
            if f.target is not None:
                (part / f.target).write_bytes(blob)
            else:
                _unpack(blob, f, part)
        for rel, want in src.md5.items():
            files = sorted((part / rel[:-2]).iterdir()) if rel.endswith("/*") else [part / rel]
            got = _md5(files)
            if got != want:
                raise UserError(f"{name}: {rel} has md5 {got}, expected {want}; the download "
                                f"is corrupt or the source changed (nothing was kept)")
        for item in sorted(part.iterdir()):
            target = dest / item.name
            if target.is_dir():
                shutil.rmtree(target)
            item.replace(target)
    finally:
        shutil.rmtree(part, ignore_errors=True)
    return dest / src.data_arg


def main(argv: list[str]) -> int:
    from hw import cli

    p = cli.Parser(prog="python -m train.data download", description=__doc__.splitlines()[0])
    p.add_argument("name", help=", ".join(SOURCES))
    p.add_argument("dest", metavar="DIR", help="folder to put the data set in")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    def body() -> int:
        where = download(args.name, args.dest, progress=not args.no_progress)
        print(f"{args.name}: checked and stored; train with --data {where}")
        return 0

    return cli.run(body, interrupted=lambda: "interrupted; nothing was kept")
