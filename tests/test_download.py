"""emoMusic remote files: the real download -> verify -> extract -> load path, offline.

Archives in the real layouts are served from 127.0.0.1 by a handler that supports Range.
"""

import hashlib
import io
import json
import tarfile
import zipfile

import pytest

from dataset_builders import SAMPLE_IDS, FileServer, make_emomusic_archives
from mer.data.check import check_dataset
from mer.data.download import (LOCK_FILE, RemoteFile, dataset_remotes, download_file,
                               extract_emomusic, fetch_archives, manual_download_hint,
                               safe_extract, verify_locked)
from mer.data.emomusic import check_audio_present, clip_path, load_annotations
from mer.errors import DataError


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archives")
    return make_emomusic_archives(folder, tmp_path_factory.mktemp("work"))


@pytest.fixture
def server(archives):
    with FileServer({f"/emoMusic/{name}": data for name, data in archives.items()}) as running:
        yield running


def remotes_for(server, sha256=None):
    urls = {"clips": f"{server.url}/emoMusic/clips_45sec.tar.gz",
            "annotations": f"{server.url}/emoMusic/annotations.tar.gz"}
    return dataset_remotes("emomusic", urls, sha256)


def test_download_verify_extract_load(server, archives, tmp_path):
    folder = tmp_path / "data/raw/emomusic-archives"
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in archives.items()}
    paths = fetch_archives(remotes_for(server, {"clips": sums["clips_45sec.tar.gz"]}), folder,
                           progress=False)
    assert paths["clips"].read_bytes() == archives["clips_45sec.tar.gz"]
    assert not (folder / LOCK_FILE).exists()  # recorded only once the archives extracted
    assert not list(folder.glob("*.part"))

    root = extract_emomusic(list(paths.values()), tmp_path / "data/raw/emomusic")
    lock = json.loads((folder / LOCK_FILE).read_text())
    assert {k: v["sha256"] for k, v in lock.items()} == sums  # unknown sha256 computed and recorded
    annotations = load_annotations(root)
    assert annotations.song_ids.tolist() == SAMPLE_IDS
    assert annotations.target("arousal").shape == (5, 61)
    assert annotations.info.loc[3, "Mediaeval 2013 set"] == "evaluation"
    check_audio_present(root, annotations.song_ids)
    assert clip_path(root, 2).stat().st_mode & 0o222 == 0  # raw data is read-only
    report = check_dataset(root, "emomusic", decode=False)
    assert report.ok and report.complete == SAMPLE_IDS
    assert not list(root.parent.glob(".emomusic.*"))  # no scratch or staging left behind


def test_interrupted_download_resumes_with_range(server, archives, tmp_path):
    dest = tmp_path / "clips_45sec.tar.gz"
    url = f"{server.url}/emoMusic/clips_45sec.tar.gz"
    data = archives["clips_45sec.tar.gz"]
    server.cut_after = 1000
    with pytest.raises(DataError, match="stopped at 1000 of .* run again to resume"):
        download_file(url, dest, progress=False)
    assert not dest.exists()
    assert (tmp_path / "clips_45sec.tar.gz.part").stat().st_size == 1000
    download_file(url, dest, sha256=hashlib.sha256(data).hexdigest(), progress=False)
    assert server.ranges == [None, "bytes=1000-"]
    assert dest.read_bytes() == data
    assert not (tmp_path / "clips_45sec.tar.gz.part").exists()


def test_server_that_ignores_range_restarts_from_zero(server, archives, tmp_path):
    dest = tmp_path / "annotations.tar.gz"
    (tmp_path / "annotations.tar.gz.part").write_bytes(b"stale bytes from elsewhere")
    server.ignore_range = True
    download_file(f"{server.url}/emoMusic/annotations.tar.gz", dest, progress=False)
    assert server.ranges[0].startswith("bytes=")
    assert dest.read_bytes() == archives["annotations.tar.gz"]


def test_wrong_checksum_is_refused(server, tmp_path):
    dest = tmp_path / "annotations.tar.gz"
    with pytest.raises(DataError, match="does not match the expected 0000"):
        download_file(f"{server.url}/emoMusic/annotations.tar.gz", dest, sha256="0" * 64,
                      progress=False)
    assert not dest.exists() and not list(tmp_path.iterdir())


def test_lock_file_detects_a_changed_archive(server, tmp_path):
    folder = tmp_path / "archives"
    paths = fetch_archives(remotes_for(server), folder, progress=False)
    extract_emomusic(list(paths.values()), tmp_path / "first")
    paths["annotations"].chmod(0o644)
    paths["annotations"].write_bytes(b"not the archive that was recorded")
    with pytest.raises(DataError, match="differs from .* recorded in .*sha256.lock.json"):
        verify_locked(paths["annotations"], folder / LOCK_FILE)
    with pytest.raises(DataError, match="changed since the first run"):
        extract_emomusic(list(paths.values()), tmp_path / "emomusic")
    assert not (tmp_path / "emomusic").exists()


def test_gated_or_missing_download_says_where_to_put_the_files(server, tmp_path):
    server.html.add("/gated/clips_45sec.tar.gz")
    hint = manual_download_hint(tmp_path / "archives")
    with pytest.raises(DataError, match="form") as raised:
        download_file(f"{server.url}/gated/clips_45sec.tar.gz", tmp_path / "a.tar.gz", hint=hint,
                      progress=False)
    assert "dataset: local" in str(raised.value) and "datasets.local.path" in str(raised.value)
    remotes = {"clips": RemoteFile("clips_45sec.tar.gz", f"{server.url}/missing.tar.gz")}
    with pytest.raises(DataError, match="404") as raised:
        fetch_archives(remotes, tmp_path / "archives", progress=False, hint=hint)
    assert "cvml.unige.ch/databases/emoMusic" in str(raised.value)
    assert str(tmp_path / "archives") in str(raised.value)


def _tar_with(tmp_path, *members) -> str:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize("member, reason", [
    (_file("../escaped.txt"), "outside the extraction folder"),
    (_file("/tmp/absolute.txt"), "outside the extraction folder"),
    (_file("annotations/../../escaped.txt"), "outside the extraction folder"),
    (_link("annotations/link", "../../escaped.txt"), "link .* outside"),
    (_link("annotations/link", "/etc/passwd"), "link .* outside"),
    (_link("hard", "../escaped.txt", tarfile.LNKTYPE), "link .* outside"),
])
def test_unsafe_tar_members_are_refused(tmp_path, member, reason):
    archive = _tar_with(tmp_path, _file("annotations/ok.csv"), member)
    target = tmp_path / "deep" / "target"
    with pytest.raises(DataError, match=reason):
        safe_extract(archive, target)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "deep" / "escaped.txt").exists()
    assert not (target / "annotations" / "ok.csv").exists()  # nothing extracted at all


def test_link_inside_the_target_is_allowed(tmp_path):
    archive = _tar_with(tmp_path, _file("a/real.txt", b"hello"), _link("a/alias.txt", "real.txt"))
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out/a/alias.txt").read_bytes() == b"hello"


def test_zip_traversal_truncation_and_size_limit_are_refused(tmp_path, archives):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zipped:
        zipped.writestr("../escaped.txt", b"x")
    with pytest.raises(DataError, match="outside the extraction folder"):
        safe_extract(evil, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()

    truncated = tmp_path / "clips_45sec.tar.gz"
    truncated.write_bytes(archives["clips_45sec.tar.gz"][:len(archives["clips_45sec.tar.gz"]) // 2])
    with pytest.raises(DataError, match="truncated or corrupt.*download it again"):
        safe_extract(truncated, tmp_path / "out2")

    whole = tmp_path / "whole.tar.gz"
    whole.write_bytes(archives["clips_45sec.tar.gz"])
    with pytest.raises(DataError, match="size limit"):
        safe_extract(whole, tmp_path / "out3", max_bytes=1000)


# -- the lock records only archives that extracted --------------------------------------

def test_a_corrupt_download_does_not_poison_the_lock(server, archives, tmp_path):
    folder = tmp_path / "archives"
    good = archives["annotations.tar.gz"]
    server.files["/emoMusic/annotations.tar.gz"] = good[:len(good) // 2]  # a bad mirror
    paths = fetch_archives(remotes_for(server), folder, progress=False)
    with pytest.raises(DataError, match="truncated or corrupt.*delete .* and download it again"):
        extract_emomusic(list(paths.values()), tmp_path / "emomusic")
    assert not (tmp_path / "emomusic").exists()
    assert "annotations.tar.gz" not in (json.loads((folder / LOCK_FILE).read_text())
                                        if (folder / LOCK_FILE).exists() else {})
    # the fix the message gives: delete it and download it again -> accepted and recorded
    server.files["/emoMusic/annotations.tar.gz"] = good
    paths["annotations"].unlink()
    paths = fetch_archives(remotes_for(server), folder, progress=False)
    root = extract_emomusic(list(paths.values()), tmp_path / "emomusic")
    assert load_annotations(root).song_ids.tolist() == SAMPLE_IDS
    lock = json.loads((folder / LOCK_FILE).read_text())
    assert lock["annotations.tar.gz"]["sha256"] == hashlib.sha256(good).hexdigest()


# -- web pages instead of archives -------------------------------------------------------

class _GatedSite:
    """A site that hides its archive behind a login: a redirect to a form, an HTML body
    sent as application/octet-stream, a 403."""

    PAGE = b"\n  <!DOCTYPE html><html><body><form action='/login'>Password</form></body></html>"

    def __enter__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        page = self.PAGE

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                if self.path == "/redirect.tar.gz":
                    self.send_response(302)
                    self.send_header("Location", "/login?next=/redirect.tar.gz")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path == "/forbidden.tar.gz":
                    self.send_error(403)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if self.path.startswith("/login")
                                 else "application/octet-stream")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("path, message", [
    ("/redirect.tar.gz", r"answered with a web page after a redirect to .*/login\?next=.* \(a login or access page\)"),
    ("/octet.tar.gz", r"answered with a web page \(it starts with .*DOCTYPE"),
    ("/forbidden.tar.gz", r"HTTP 403 .*asks for a login"),
])
def test_login_or_form_instead_of_the_archive_says_so_and_writes_nothing(tmp_path, path, message):
    hint = manual_download_hint(tmp_path / "archives")
    with _GatedSite() as site:
        remotes = {"clips": RemoteFile("clips_45sec.tar.gz", site.url + path)}
        with pytest.raises(DataError, match=message) as raised:
            fetch_archives(remotes, tmp_path / "archives", progress=False, hint=hint)
    assert "`dataset: local`" in str(raised.value) and str(tmp_path / "archives") in str(raised.value)
    assert not (tmp_path / "archives").exists() or not list((tmp_path / "archives").iterdir())


# -- link escapes are not corruption; decompression bombs ---------------------------------

def test_a_symlink_chain_escape_is_refused_as_a_link_escape(tmp_path):
    # each link alone stays inside; followed one after the other they reach the parent
    archive = _tar_with(tmp_path, _link("a", "."), _link("a/b", ".."), _file("b/escaped.txt"))
    target = tmp_path / "deep" / "target"
    with pytest.raises(DataError, match=r"refusing link 'a/b' -> '\.\.'.*link escape, not corruption"):
        safe_extract(archive, target)
    assert not (tmp_path / "deep" / "escaped.txt").exists()
    assert not (target / "a").exists() and not (target / "b").exists()


def test_a_file_written_through_an_escaping_link_folder_is_refused(tmp_path):
    archive = _tar_with(tmp_path, _link("up", "sub/../.."), _file("up/escaped.txt"))
    with pytest.raises(DataError, match="link escape"):
        safe_extract(archive, tmp_path / "deep" / "target")
    assert not (tmp_path / "deep" / "escaped.txt").exists()


def _zeros_tar(path, n_bytes):
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("annotations/zeros.csv")
        info.size = n_bytes
        tar.addfile(info, io.BytesIO(bytes(n_bytes)))
    return path


def test_a_decompression_bomb_is_refused_before_anything_is_written(tmp_path):
    bomb = _zeros_tar(tmp_path / "annotations.tar.gz", 80 * 2**20)  # 80 MiB of zeros: ~80 KB
    assert bomb.stat().st_size < 2**20
    with pytest.raises(DataError, match=r"expands to more than 100 times its size.*bomb"):
        safe_extract(bomb, tmp_path / "out")
    assert not list((tmp_path / "out").rglob("*.csv"))
    zipped = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("annotations/zeros.csv", bytes(2 * 2**20))
    with pytest.raises(DataError, match="bomb"):
        safe_extract(zipped, tmp_path / "out2", ratio_floor=2**20)
    assert not list((tmp_path / "out2").rglob("*.csv"))
    safe_extract(_zeros_tar(tmp_path / "small.tar.gz", 2**20), tmp_path / "out3")  # under the floor
