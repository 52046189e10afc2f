"""Inputs are never overwritten, outputs are complete or untouched, and bad input or an OS failure is one message
on stderr and exit 2: -o/--save onto devices, FIFOs, symlinks, read-only and same files; stdout that fails or is
closed; unbounded and odd SPECs; SIGTERM and SIGHUP during `step`. Runs as root too (mode bits checked, device
nodes made with mknod in the test's own folder, never /dev's)."""

from __future__ import annotations

import errno
import os
import select
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from conftest import NETWORKS

BPCALC = [sys.executable, "-m", "bpcalc"]
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
SIMPLE = NETWORKS / "simple.yaml"


def bpcalc(*args, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    if kw.get("stdin") is None and "input" not in kw:
        kw["stdin"] = subprocess.DEVNULL
    return subprocess.run([*BPCALC, *map(str, args)], text=True, timeout=timeout, **kw)


def one_error(stderr: str, *fragments: str) -> None:
    """Exactly one `error:` line (plus an optional hint), no traceback, no noise at exit."""
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error: ") and all(ln.startswith("  hint:") for ln in lines[1:]), stderr
    for f in fragments:
        assert f in stderr, stderr


def mknod_char(path: Path, major: int, minor: int) -> Path:
    """A character device node of our own (so a buggy write can never replace /dev's)."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    return path


# ------------------------------------------------------------------ 1. -o/--save onto what is already there
def test_output_dash_is_stdout(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("run", "simple", "-o", "-", "-f", "json")
    assert r.exit_code == 0, r.stderr
    assert '"kind": "network"' in r.stdout
    assert not (tmp_path / "-").exists()


def test_save_dash_is_refused(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("run", "simple", "--save", "-")
    assert r.exit_code == 2 and "stdout" in r.stderr and not (tmp_path / "-").exists()


def test_output_onto_a_device_writes_in_place(cli, tmp_path):
    null = mknod_char(tmp_path / "null", 1, 3)
    for opt in ("-o", "--save"):
        r = cli("run", "simple", opt, null)
        assert r.exit_code == 0, r.stderr
        assert stat.S_ISCHR(os.lstat(null).st_mode), "the device node was replaced by a regular file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]  # no temp file left


def test_output_onto_a_full_device_is_a_message(cli, tmp_path):
    full = mknod_char(tmp_path / "full", 1, 7)
    r = cli("run", "simple", "-o", full)
    assert r.exit_code == 2
    one_error(r.stderr, "cannot write", "No space left on device")
    assert stat.S_ISCHR(os.lstat(full).st_mode)


def test_output_through_a_symlink_writes_its_target(cli, tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(real.name)
    r = cli("run", "simple", "-o", link)
    assert r.exit_code == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == real.name
    assert '"kind": "network"' in real.read_text(encoding="utf-8")


def test_save_through_a_dangling_symlink_creates_its_target(cli, tmp_path):
    link = tmp_path / "next.yaml"
    link.symlink_to("made.yaml")
    r = cli("run", "simple", "--save", link)
    assert r.exit_code == 0, r.stderr
    assert link.is_symlink() and "layers" in yaml.safe_load((tmp_path / "made.yaml").read_text(encoding="utf-8"))


def test_output_onto_a_fifo_writes_to_its_reader(cli, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    r = cli("run", "simple", "-o", fifo, "-f", "json")
    reader.join(30)
    assert r.exit_code == 0, r.stderr
    assert got and b'"kind": "network"' in got[0]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_output_through_a_link_to_stdout_goes_to_stdout(tmp_path):
    link = tmp_path / "out.json"
    link.symlink_to("/proc/self/fd/1")
    if not os.path.exists("/proc/self/fd/1"):
        pytest.skip("no /proc/self/fd")
    r = bpcalc("run", "simple", "-o", link, "-f", "json")
    assert r.returncode == 0, r.stderr
    assert '"kind": "network"' in r.stdout
    assert link.is_symlink() and os.readlink(link) == "/proc/self/fd/1"


# ------------------------------------------------------------------ 2. read-only, the same file twice, SPEC itself
def test_read_only_output_is_refused(cli, tmp_path):
    ro = tmp_path / "ro.txt"
    ro.write_text("keep", encoding="utf-8")
    ro.chmod(0o444)
    for opt in ("-o", "--save"):
        r = cli("run", "simple", opt, ro)
        assert r.exit_code == 2, r.stdout
        one_error(r.stderr, "ro.txt", "read-only")
        assert ro.read_text(encoding="utf-8") == "keep"


def test_read_only_save_is_refused_before_training(cli, tmp_path):
    ro = tmp_path / "trained.yaml"
    ro.write_text("keep", encoding="utf-8")
    ro.chmod(0o444)
    r = cli("step", "two_layer", "--epochs", "5", "--save", ro, "-f", "json")
    assert r.exit_code == 2 and r.stdout == "" and "read-only" in r.stderr
    assert ro.read_text(encoding="utf-8") == "keep"


@pytest.mark.parametrize("how", ["same", "dot", "dotdot", "symlink", "hardlink"])
@pytest.mark.parametrize("exists", [False, True])
def test_output_and_save_the_same_file_is_refused(cli, tmp_path, how, exists):
    (tmp_path / "sub").mkdir()
    a = tmp_path / "a.yaml"
    if exists or how == "hardlink":
        a.write_text("keep", encoding="utf-8")
    b = {"same": a, "dot": Path(f"{tmp_path}/./a.yaml"), "dotdot": tmp_path / "sub" / ".." / "a.yaml",
         "symlink": tmp_path / "l.yaml", "hardlink": tmp_path / "h.yaml"}[how]
    if how == "symlink":
        b.symlink_to(a)
    elif how == "hardlink":
        os.link(a, b)
    r = cli("step", "two_layer", "--epochs", "3", "-o", a, "--save", b)
    assert r.exit_code == 2 and "same file" in r.stderr and r.stdout == ""
    assert not a.exists() or a.read_text(encoding="utf-8") == "keep"


def test_output_and_save_may_share_a_device(cli, tmp_path):
    null = mknod_char(tmp_path / "null", 1, 3)
    r = cli("run", "simple", "-o", null, "--save", null)
    assert r.exit_code == 0, r.stderr


def test_save_over_the_spec_through_a_hard_link_is_refused(cli, tmp_path):
    spec = tmp_path / "in.yaml"
    spec.write_bytes(SIMPLE.read_bytes())
    os.link(spec, tmp_path / "alias.yaml")
    r = cli("run", spec, "--save", tmp_path / "alias.yaml")
    assert r.exit_code == 2 and "refusing to overwrite the input spec" in r.stderr
    assert spec.read_bytes() == SIMPLE.read_bytes()


def test_save_over_the_file_on_stdin_is_refused(tmp_path):
    spec = tmp_path / "in.yaml"
    spec.write_bytes(SIMPLE.read_bytes())
    for target in (spec, tmp_path / "link.yaml"):
        if target != spec:
            target.symlink_to(spec.name)
        with open(spec, "rb") as stdin:
            r = bpcalc("run", "-", "--save", target, stdin=stdin, cwd=tmp_path)
        assert r.returncode == 2, r.stdout
        one_error(r.stderr, "refusing to overwrite the input spec", "stdin")
        assert spec.read_bytes() == SIMPLE.read_bytes()


def test_save_from_stdin_to_another_file_works(tmp_path):
    with open(SIMPLE, "rb") as stdin:
        r = bpcalc("run", "-", "--save", tmp_path / "next.yaml", "-q", stdin=stdin)
    assert r.returncode == 0, r.stderr
    assert "layers" in yaml.safe_load((tmp_path / "next.yaml").read_text(encoding="utf-8"))


# ------------------------------------------------------------------ 3. OS errors at the edges
@pytest.mark.parametrize("opt", ["-o", "--save", "spec"])
def test_a_file_name_too_long_is_a_message(cli, tmp_path, opt):
    long = tmp_path / ("x" * 300 + ".yaml")
    r = cli("run", long) if opt == "spec" else cli("run", "simple", opt, long)
    assert r.exit_code == 2
    one_error(r.stderr, "File name too long", "(")


def test_a_long_legal_name_still_gets_its_temp_file(cli, tmp_path):
    name = "n" * 250 + ".json"  # the temp file's name (prefix, random part, .tmp) must stay within 255 bytes
    r = cli("run", "simple", "-o", tmp_path / name)
    assert r.exit_code == 0, r.stderr
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_temp_file_that_cannot_be_made_is_a_message(cli, tmp_path, monkeypatch):
    import tempfile

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    r = cli("run", "simple", "-o", tmp_path / "out.txt")
    assert r.exit_code == 2
    one_error(r.stderr, "cannot write", "Permission denied")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(ROOT, reason="root writes into a read-only folder; the mocked test above covers it")
def test_read_only_folder_is_a_message(cli, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        r = cli("run", "simple", "-o", folder / "out.txt")
    finally:
        folder.chmod(0o755)
    assert r.exit_code == 2 and "not writable" in r.stderr and list(folder.iterdir()) == []


def test_disk_full_while_writing_leaves_the_old_file(cli, tmp_path, monkeypatch):
    out = tmp_path / "out.txt"
    out.write_text("old", encoding="utf-8")
    real_write = os.write

    def full(fd, data):
        if fd > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full)
    r = cli("run", "simple", "-o", out)
    monkeypatch.undo()
    assert r.exit_code == 2
    one_error(r.stderr, "cannot write", "No space left on device")
    assert out.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]  # the temp file is gone


STDOUT_COMMANDS = [("run", "simple"), ("run", "simple", "-f", "rich"), ("step", "--epochs", "3"),
                   ("explain", "simple"), ("explain", "sigmoid"), ("check", "simple"), ("graph", "graph_chain"),
                   ("export", "simple"), ("examples",), ("init",), ("validate", "simple"), ("schema",),
                   ("--help",), ("--version",), ("run", "--help")]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("args", STDOUT_COMMANDS, ids=" ".join)
def test_stdout_that_fails_is_one_message_and_exit_2(args):
    with open("/dev/full", "w") as full:
        r = bpcalc(*args, stdout=full, stderr=subprocess.PIPE, capture_output=False)
    assert r.returncode == 2
    assert r.stderr == "error: cannot write the output: No space left on device\n", r.stderr


def test_init_message_to_a_full_stdout(tmp_path):
    with open("/dev/full", "w") as full:
        r = bpcalc("init", tmp_path / "s.yaml", stdout=full, stderr=subprocess.PIPE, capture_output=False)
    assert r.returncode == 2 and r.stderr == "error: cannot write the output: No space left on device\n"
    assert (tmp_path / "s.yaml").exists()  # the file itself was written


# ------------------------------------------------------------------ 4. a closed pipe
@pytest.mark.parametrize("fmt", ["text", "rich", "json"])
def test_closed_pipe_keeps_the_save_and_exits_quietly(tmp_path, fmt):
    save = tmp_path / "tr.yaml"
    env = {**os.environ, "COLUMNS": "100"}
    p = subprocess.Popen([*BPCALC, "step", "two_layer", "--epochs", "50", "--save", str(save), "-f", fmt],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    p.stdout.close()  # before it writes a byte: every write to stdout meets EPIPE
    err = p.stderr.read().decode()
    rc = p.wait(120)
    assert rc == 0 and err == "", (rc, err)
    trained = yaml.safe_load(save.read_text(encoding="utf-8"))
    assert trained["training_state"]["epoch"] == 50


def test_closed_pipe_after_the_first_line(tmp_path):
    save = tmp_path / "tr.yaml"
    r = subprocess.run(f"{sys.executable} -m bpcalc step two_layer --epochs 2000 --every 1 --save {save} | head -1",
                       shell=True, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == "" and len(r.stdout.splitlines()) == 1
    assert yaml.safe_load(save.read_text(encoding="utf-8"))["training_state"]["epoch"] == 2000


# ------------------------------------------------------------------ 5. unbounded and odd SPECs
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_endless_stdin_is_read_only_to_the_limit():
    with open("/dev/zero", "rb") as zero:
        r = bpcalc("run", "-", stdin=zero, timeout=60)
    assert r.returncode == 2
    one_error(r.stderr, "<stdin>", "larger than 4 MiB")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_device_as_spec_says_what_it_is():
    r = bpcalc("run", "/dev/zero", timeout=60)
    assert r.returncode == 2
    one_error(r.stderr, "/dev/zero is a character device", "bpcalc run - <")


def test_a_fifo_as_spec_says_what_it_is(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    r = bpcalc("run", fifo, timeout=60)  # never opened, so it cannot wait for a writer
    assert r.returncode == 2
    one_error(r.stderr, "is a named pipe (FIFO)")


def test_an_anonymous_pipe_as_spec_is_read(tmp_path):
    rfd, wfd = os.pipe()
    os.write(wfd, SIMPLE.read_bytes())
    os.close(wfd)
    try:
        r = bpcalc("run", f"/dev/fd/{rfd}", "-f", "json", pass_fds=(rfd,))  # as `bpcalc run <(cat spec.yaml)`
    finally:
        os.close(rfd)
    assert r.returncode == 0, r.stderr
    assert '"kind": "network"' in r.stdout


def test_a_huge_file_is_refused_by_size(cli, tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.write(b"name: x\n")
        fh.truncate(64 * 1024 * 1024)  # sparse: costs no disk; read whole it would cost 64 MiB twice over
    r = cli("run", big)
    assert r.exit_code == 2 and "larger than 4 MiB" in r.stderr


# ------------------------------------------------------------------ 6. SIGTERM and SIGHUP during `step`
@pytest.mark.parametrize(("sig", "code", "said"), [
    (signal.SIGTERM, 143, "terminated by SIGTERM"),
    (getattr(signal, "SIGHUP", None), 129, "hung up (SIGHUP)"),
    (signal.SIGINT, 130, "interrupted"),
], ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_a_signal_during_step_ends_like_ctrl_c(tmp_path, sig, code, said):
    if sig is None:
        pytest.skip("no SIGHUP on this platform")
    import pty

    save, out = tmp_path / "tr.yaml", tmp_path / "out.json"
    master, slave = pty.openpty()  # stderr a terminal: the progress bar shows once training is under way
    with open(out, "wb") as stdout:
        p = subprocess.Popen([*BPCALC, "step", "two_layer", "--epochs", "20000000", "--save", str(save),
                              "-f", "json"], stdout=stdout, stderr=slave, stdin=subprocess.DEVNULL,
                             env={**os.environ, "COLUMNS": "100"})
    os.close(slave)
    seen = b""
    try:
        while b"training" not in seen:  # the bar's label, printed after about a second of training
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, f"no progress bar within 60 s: {seen!r}"
            seen += os.read(master, 4096)
        p.send_signal(sig)
        rc = p.wait(60)
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other side closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
    text = seen.decode(errors="replace")
    assert rc == code, text
    assert said in text and "--save wrote" in text and "Traceback" not in text
    epoch = yaml.safe_load(save.read_text(encoding="utf-8"))["training_state"]["epoch"]
    assert epoch > 0 and f"after epoch {epoch};" in text
    import json

    assert json.loads(out.read_text(encoding="utf-8"))["epochs_requested"] == 20000000


@pytest.mark.parametrize("module", ["typer", "bpcalc.cli.run", "numpy"])
def test_ctrl_c_while_still_importing_ends_quietly(tmp_path, module):
    """Ctrl-C in the first milliseconds, while bpcalc imports typer, its commands or numpy: exit 130 as any Ctrl-C,
    no traceback (made deterministic: an import hook raises KeyboardInterrupt at that import)."""
    code = ("import sys\n"
            "class Interrupt:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            f"        if name == {module!r}:\n"
            "            raise KeyboardInterrupt\n"
            "sys.meta_path.insert(0, Interrupt())\n"
            "sys.argv = ['bpcalc', 'run', 'two_layer']\n"
            "import bpcalc\n"
            "bpcalc.main()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")})
    assert r.returncode == 130, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("module", ["bpcalc.errors", "typer"])
def test_a_real_ctrl_c_while_bpcalc_itself_is_imported_ends_quietly(module):
    """A real SIGINT arriving while the package itself is still being imported (before main() runs): exit 130, no
    traceback (deterministic: an import hook sends the signal to the process at that import)."""
    code = ("import os, signal, sys\n"
            "class Interrupt:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            f"        if name == {module!r}:\n"
            "            os.kill(os.getpid(), signal.SIGINT)\n"
            "sys.meta_path.insert(0, Interrupt())\n"
            "sys.argv = ['/usr/local/bin/bpcalc', 'run', 'two_layer']\n"
            "import bpcalc\n"
            "bpcalc.main()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")})
    assert r.returncode == 130, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_importing_bpcalc_as_a_library_leaves_ctrl_c_alone():
    code = "import signal, sys\nsys.argv = ['notebook']\nimport bpcalc\nprint(signal.getsignal(signal.SIGINT))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")})
    assert "default_int_handler" in r.stdout, r.stdout + r.stderr


def test_the_console_script_is_the_guarded_entry_point():
    tomllib = pytest.importorskip("tomllib")
    cfg = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert cfg["project"]["scripts"]["bpcalc"] == "bpcalc:main"
