#!/usr/bin/env python3
"""Side-by-side benchmark of cao (this project, Rust) and CAO 2.5.4 (Python, from PyPI).

Run through `bench/compare-cao.sh`; `--help` lists the options.

Every round starts each side's server from nothing in its own temporary directory (HOME, data
directory, TMUX_TMPDIR, tmux socket) on a free loopback port, measures, and tears everything
down again: the session is deleted, the server gets SIGTERM by pid (SIGKILL after 3 s) and the
private tmux server is killed through its own socket. Nothing touches the user's tmux server.

Measurements (per side, per round; median, min and max over rounds are reported):
  server_start      spawn -> first 200 from GET /health, polled every 5 ms
  idle_rss          VmRSS of the server's process tree ~1 s after health
  session_list      wall time of the CLI's `session list` against that server
  session_created   POST /sessions?provider=<mock>&agent_profile=developer -> 201
  session_ready     the same POST -> GET /terminals/{id} says idle or completed
  inbox_latency     the supervisor is busy with a task of known length and a message is queued
                    for it; from the receiver's pane showing the task's answer (seen by a
                    read-only tmux control client) to the receiving mock agent reading the
                    submitted message (the mock's own input log)
  handoff           one handoff to a new mock worker, request -> answer with the worker's reply
                    (cao: POST /agents/handoff; CAO: the `handoff` tool of its cao-mcp-server)
  mcp_start         the per-agent MCP stdio server: spawn -> `initialize` answered
  mcp_rss           its peak RSS (VmHWM) once it has answered `initialize` and `tools/list`

The benchmark reports; it does not assert targets. It exits nonzero only when a measurement
could not be taken at all, and says why.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import secrets
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

CAO_VERSION = "2.5.4"
CAO_PACKAGE = "cli-agent-orchestrator"
HEALTH_POLL_S = 0.005
HEALTH_TIMEOUT_S = 60.0
READY_POLL_S = 0.005
READY_TIMEOUT_S = 90.0
IDLE_SETTLE_S = 1.0
STOP_GRACE_S = 3.0
READY_STATUSES = {"idle", "completed"}
# The receiver's task in the inbox measurement: long enough to queue a message while it works
# (CAO's POST alone can take a few hundred ms on a loaded machine), short enough for the run.
BUSY_S = 2.0
# CAO's inbox has a 30 s reconcile sweep as its slowest path; wait a little longer than that.
INBOX_ARRIVAL_TIMEOUT_S = 45.0
HANDOFF_TIMEOUT_S = 120.0
MCP_TIMEOUT_S = 30.0
HANDOFF_PROFILE = "developer"

SIDE_CAO = "cao"
SIDE_PY = "cao-python"
SIDE_LABEL = {SIDE_CAO: "cao", SIDE_PY: f"CAO {CAO_VERSION}"}


@dataclass
class Measure:
    key: str
    label: str
    unit: str  # "s" or "MiB"
    target: Optional[float]  # for cao, in `unit`
    target_text: str


MEASURES = [
    Measure("server_start", "server start -> first /health", "s", 0.050, "<= 50 ms"),
    Measure("idle_rss", "idle server RSS (process tree)", "MiB", 20.0, "<= 20 MiB"),
    Measure("session_list", "CLI `session list`", "s", 0.020, "<= 20 ms"),
    Measure("session_created", "POST /sessions (mock) -> 201", "s", None, "-"),
    Measure("session_ready", "POST /sessions (mock) -> ready", "s", 0.5, "<= 0.5 s"),
    Measure("inbox_latency", "inbox: receiver done -> message read", "s", 0.100, "<= 100 ms"),
    Measure("handoff", "handoff to a mock worker, round trip", "s", 0.5, "<= 0.5 s"),
    Measure("mcp_start", "MCP stdio server: spawn -> initialize", "s", 0.020, "<= 20 ms"),
    Measure("mcp_rss", "MCP stdio server peak RSS (VmHWM)", "MiB", 10.0, "<= 10 MiB"),
]
MEASURE_UNIT = {m.key: m.unit for m in MEASURES}


class BenchError(Exception):
    """A measurement could not be taken."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Setup of the two sides


def python_for_venv() -> str:
    for name in ("python3.11", "python3.12", "python3.13", "python3.10", "python3"):
        path = shutil.which(name)
        if path:
            return path
    raise BenchError("no python3 found to create CAO's virtualenv")


def ensure_cao_python(cache: Path) -> tuple[Path, Path]:
    """Returns (venv, the directory of the timed mock_cli); installs CAO and extracts its mock_cli
    into the cache when absent."""
    venv = cache / f"cao-{CAO_VERSION}-venv"
    mockbin = cache / f"cao-{CAO_VERSION}-mockbin"
    cache.mkdir(parents=True, exist_ok=True)
    ok_marker = venv / ".cao-bench-ok"
    if not ok_marker.exists():
        if venv.exists():
            shutil.rmtree(venv)
        log(f"== installing {CAO_PACKAGE}=={CAO_VERSION} into {venv} (once)")
        subprocess.run([python_for_venv(), "-m", "venv", str(venv)], check=True)
        r = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"{CAO_PACKAGE}=={CAO_VERSION}"],
            stdout=sys.stderr,
        )
        if r.returncode != 0:
            raise BenchError(f"pip install {CAO_PACKAGE}=={CAO_VERSION} failed (exit {r.returncode})")
        ok_marker.write_text(f"{CAO_PACKAGE}=={CAO_VERSION}\n")
    mock = mockbin / "mock_cli"
    if not mock.exists():
        # CAO's `mock_cli` provider types `mock_cli --delay-ms 50` into the pane; the script it
        # runs ships only in the sdist (test/providers/fixtures/bin/mock_cli), not in the wheel.
        log(f"== fetching CAO's mock_cli from the {CAO_VERSION} sdist (once)")
        with tempfile.TemporaryDirectory(prefix="cao-bench-sdist.") as tmp:
            r = subprocess.run(
                [str(venv / "bin" / "pip"), "download", "-q", "--no-deps", "--no-binary", ":all:",
                 f"{CAO_PACKAGE}=={CAO_VERSION}", "-d", tmp],
                stdout=sys.stderr,
            )
            tarballs = list(Path(tmp).glob("*.tar.gz"))
            if r.returncode != 0 or not tarballs:
                raise BenchError("could not download CAO's sdist to get its mock_cli script")
            member = f"cli_agent_orchestrator-{CAO_VERSION}/test/providers/fixtures/bin/mock_cli"
            with tarfile.open(tarballs[0]) as tar:
                try:
                    data = tar.extractfile(member)
                except KeyError:
                    data = None
                if data is None:
                    raise BenchError(f"{member} not found in CAO's sdist")
                mockbin.mkdir(parents=True, exist_ok=True)
                tmp_mock = mockbin / "mock_cli.tmp"
                tmp_mock.write_bytes(data.read())
                tmp_mock.chmod(0o755)
                tmp_mock.rename(mock)
    return venv, ensure_timed_mock(mock, cache / f"cao-{CAO_VERSION}-mockbin-timed")


# Inserted after mock_cli's `read`: when CAO_BENCH_MOCK_LOG is set, one line per input it read,
# `<epoch seconds with microseconds>\t<the line>`. $EPOCHREALTIME is a bash 5 builtin, so the
# mock forks nothing more than before and otherwise behaves exactly as CAO's own.
MOCK_READ_LINE = "while IFS= read -r line; do\n"
MOCK_LOG_LINE = ('    [[ -n "${CAO_BENCH_MOCK_LOG:-}" ]] && '
                 'printf \'%s\\t%s\\n\' "$EPOCHREALTIME" "$line" >> "$CAO_BENCH_MOCK_LOG"\n')


def ensure_timed_mock(mock: Path, timed_dir: Path) -> Path:
    """CAO's mock_cli with one line added that logs when it reads each input (the inbox
    measurement's arrival instant); returns the directory holding it."""
    text = mock.read_text()
    if text.count(MOCK_READ_LINE) != 1:
        raise BenchError(f"{mock}: expected one `{MOCK_READ_LINE.strip()}` to add the input log")
    timed = text.replace(MOCK_READ_LINE, MOCK_READ_LINE + MOCK_LOG_LINE)
    target = timed_dir / "mock_cli"
    if not target.exists() or target.read_text() != timed:
        timed_dir.mkdir(parents=True, exist_ok=True)
        tmp = timed_dir / "mock_cli.tmp"
        tmp.write_text(timed)
        tmp.chmod(0o755)
        tmp.rename(target)
    return timed_dir


def ensure_cao_bin(repo: Path, cao_bin: Optional[str]) -> Path:
    if cao_bin:
        path = Path(cao_bin).resolve()
        if not path.is_file():
            raise BenchError(f"--cao-bin {cao_bin}: no such file")
        return path
    path = repo / "target" / "release" / "cao"
    if not path.is_file():
        log("== target/release/cao missing: cargo build --release -p cao")
        r = subprocess.run(["cargo", "build", "--release", "-p", "cao"], cwd=repo, stdout=sys.stderr)
        if r.returncode != 0 or not path.is_file():
            raise BenchError(f"cargo build --release -p cao failed (exit {r.returncode})")
    return path


# --------------------------------------------------------------------------------------------
# Processes, HTTP, /proc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, token: Optional[str] = None,
         timeout: float = 30.0, body: Optional[bytes] = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    children = proc_children()
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def vm_kib(pid: int, name: str = "VmRSS") -> int:
    """A `Vm…` line of /proc/<pid>/status in KiB (VmRSS now, VmHWM the peak so far)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0  # gone, or a zombie/kernel thread without it


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def kill_tree(proc: subprocess.Popen, grace_s: float,
              ask: Optional[Callable[[], None]] = None) -> None:
    """Asks `proc` to leave (`ask`: a signal, closing its input), waits up to `grace_s`, then
    SIGKILLs it and whatever it started. The tree is read before asking: once `proc` is gone
    its children are no longer its children."""
    tree = process_tree(proc.pid) if proc.poll() is None else []
    if ask is not None and proc.poll() is None:
        ask()
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pid in tree[1:]:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def close_input(proc: subprocess.Popen) -> None:
    if proc.stdin:
        try:
            proc.stdin.close()
        except OSError:
            pass


def tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + l for l in lines[-n:])


def wait_until(probe: Callable[[], Optional[float]], timeout_s: float, what: str) -> float:
    """Polls `probe` every 10 ms until it returns a value; the value is the answer (the
    instant an event happened, read from a log), not the time the poll saw it."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.010)


_TMUX_ESCAPE = re.compile(rb"\\([0-7]{3})")


class PaneWatcher:
    """A read-only tmux control client attached to a session: every `%output` of its panes,
    stamped with the wall clock the moment this process reads it.

    tmux ≥ 3.2 leaves a control client without a size out of window sizing, so attaching it
    does not change what the agents see.
    """

    def __init__(self, tmux: list[str], session: str, env: dict[str, str]):
        self.proc = subprocess.Popen([*tmux, "-C", "attach-session", "-r", "-t", session],
                                     env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, bufsize=0)
        self.text = ""
        self.stamps: list[tuple[int, float]] = []  # (end offset in `text`, wall clock)
        self.attached = False
        self.answered = threading.Event()  # attached, or the client ended
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        if not self.answered.wait(10.0) or not self.attached:
            self.close()
            raise BenchError(f"tmux control client could not attach to session {session}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        fd, pending = self.proc.stdout.fileno(), b""
        while True:
            chunk = os.read(fd, 65536)
            now = time.time()
            if not chunk:
                self.answered.set()
                return
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.startswith(b"%output "):
                    parts = line.split(b" ", 2)
                    data = parts[2] if len(parts) == 3 else b""
                    raw = _TMUX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), data)
                    with self.changed:
                        self.text += raw.decode("utf-8", errors="replace")
                        self.stamps.append((len(self.text), now))
                        self.changed.notify_all()
                elif line.startswith((b"%end", b"%session-changed")):
                    self.attached = True
                    self.answered.set()

    def offset(self) -> int:
        with self.changed:
            return len(self.text)

    def wait_for(self, marker: str, since: int, timeout_s: float) -> float:
        """The wall clock at which output after `since` first contained `marker`."""
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while True:
                at = self.text.find(marker, since)
                if at >= 0:
                    end = at + len(marker)
                    return next(stamp for offset, stamp in self.stamps if offset >= end)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"the pane never showed {marker!r} within {timeout_s:.0f} s")
                self.changed.wait(left)

    def close(self) -> None:
        # A control client detaches at the end of its input.
        kill_tree(self.proc, 2.0, ask=lambda: close_input(self.proc))

    def __enter__(self) -> "PaneWatcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class JsonLines:
    """Newline-delimited JSON-RPC from a child's stdout (the MCP stdio transport)."""

    def __init__(self, proc: subprocess.Popen):
        assert proc.stdout is not None
        self.proc, self.fd, self.pending = proc, proc.stdout.fileno(), b""

    def send(self, message: dict) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def reply(self, request_id: int, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            while b"\n" in self.pending:
                line, self.pending = self.pending.split(b"\n", 1)
                try:
                    message = json.loads(line)
                except ValueError:
                    continue  # not ours: the transport carries only JSON, tolerate noise
                if isinstance(message, dict) and message.get("id") == request_id:
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"no answer to request {request_id} within {timeout_s:.0f} s")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    raise BenchError(f"the MCP server closed its output (exit {self.proc.wait()})")
                self.pending += chunk


# --------------------------------------------------------------------------------------------
# One side


class Side:
    """One implementation under test. The base class is also what stands for a side whose
    setup failed (it only carries the error)."""

    provider = ""
    needs_token = False
    busy_task = ""  # an input that keeps the side's mock agent working for BUSY_S
    busy_done = ""  # text its pane shows when that task is done

    def __init__(self, name: str):
        self.name = name
        self.error: Optional[str] = None
        self.unavailable: dict[str, str] = {}  # measurement -> why this side cannot take it
        self.samples: dict[str, list[float]] = {}

    def server_cmd(self, port: int) -> list[str]:
        raise NotImplementedError

    def cli_cmd(self) -> list[str]:
        raise NotImplementedError

    def path_prepend(self) -> list[str]:
        return []

    def extra_env(self, tmp: Path, port: int) -> dict[str, str]:
        return {}

    def tmux_socket(self, env: dict[str, str]) -> list[str]:
        """tmux arguments naming the round's private tmux server."""
        raise NotImplementedError

    def prepare(self, tmp: Path) -> None:
        """Files this side needs in the round's directory before its server starts."""

    def mcp_cmd(self) -> list[str]:
        raise NotImplementedError

    def send_input(self, rnd: "Round", text: str) -> None:
        raise NotImplementedError

    def queue_message(self, rnd: "Round", text: str) -> None:
        raise NotImplementedError

    def inputs_read(self, rnd: "Round") -> list[tuple[float, str]]:
        """(wall clock, text) of each input the supervisor's mock agent read, from its log."""
        raise NotImplementedError

    def handoff(self, rnd: "Round", message: str) -> tuple[float, str]:
        """Hands `message` to a new worker as the supervisor; (seconds, the worker's output)."""
        raise NotImplementedError


def expect(status: int, body: bytes, what: str, ok: tuple[int, ...] = (200, 201)) -> dict:
    if status not in ok:
        raise BenchError(f"{what} -> {status}: {body.decode(errors='replace')[:500]}")
    return json.loads(body) if body else {}


class CaoSide(Side):
    provider = "mock"
    needs_token = True
    busy_task = "bench-busy-task"
    busy_done = "bench-busy-finished"

    def __init__(self, cao_bin: Path):
        super().__init__(SIDE_CAO)
        self.cao_bin = cao_bin
        # `cao mcp-server` (a stdio proxy to the server's /mcp/agents/{terminal_id}) is not in
        # every build yet; without it the MCP rows are reported as not available.
        try:
            r = subprocess.run([str(cao_bin), "mcp-server", "--help"], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=30)
            missing = (None if r.returncode == 0
                       else f"`cao mcp-server --help` exited {r.returncode}")
        except (OSError, subprocess.SubprocessError) as e:
            missing = f"`cao mcp-server --help` failed: {e}"
        if missing:
            reason = f"this cao build has no `mcp-server` subcommand ({missing})"
            self.unavailable = {"mcp_start": reason, "mcp_rss": reason}

    def server_cmd(self, port: int) -> list[str]:
        return [str(self.cao_bin), "server", "--host", "127.0.0.1", "--port", str(port)]

    def cli_cmd(self) -> list[str]:
        return [str(self.cao_bin), "session", "list"]

    def path_prepend(self) -> list[str]:
        return [str(self.cao_bin.parent)]

    def extra_env(self, tmp: Path, port: int) -> dict[str, str]:
        # The mock agents inherit the server's environment through the tmux server it starts.
        return {
            "CAO_HOME_DIR": str(tmp / "data"),
            "CAO_TMUX_SOCKET": f"cao-bench-{os.getpid()}-{tmp.name.rsplit('.', 1)[-1]}",
            "CAO_API_HOST": "127.0.0.1",
            "CAO_API_PORT": str(port),
            "CAO_MOCK_AGENT_SCRIPT": str(tmp / "mock-agent.toml"),
            "CAO_MOCK_AGENT_LOG": str(tmp / "mock-agent.log"),
        }

    def tmux_socket(self, env: dict[str, str]) -> list[str]:
        return ["-L", env["CAO_TMUX_SOCKET"]]

    def prepare(self, tmp: Path) -> None:
        # The busy task works BUSY_S; everything else is answered with no working time.
        (tmp / "mock-agent.toml").write_text(
            f'[[rules]]\nmatch = "{self.busy_task}"\ndelay_ms = {int(BUSY_S * 1000)}\n'
            f'reply = "{self.busy_done}"\n\n[[rules]]\ndelay_ms = 0\n')

    def mcp_cmd(self) -> list[str]:
        return [str(self.cao_bin), "mcp-server"]

    def send_input(self, rnd: "Round", text: str) -> None:
        path = f"/terminals/{rnd.terminal_id}/input"
        expect(*rnd.request("POST", path, {"message": text}), f"POST {path}")

    def queue_message(self, rnd: "Round", text: str) -> None:
        path = f"/terminals/{rnd.terminal_id}/inbox/messages"
        expect(*rnd.request("POST", path, {"message": text}), f"POST {path}")

    def inputs_read(self, rnd: "Round") -> list[tuple[float, str]]:
        out = []
        try:
            lines = (rnd.tmp / "mock-agent.log").read_text().splitlines()
        except OSError:
            return out
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line still being written
            if entry.get("terminal_id") == rnd.terminal_id:
                out.append((entry["at_ms"] / 1000.0, entry.get("input", "")))
        return out

    def handoff(self, rnd: "Round", message: str) -> tuple[float, str]:
        body = {"agent_profile": HANDOFF_PROFILE, "message": message,
                "caller_id": rnd.terminal_id, "timeout": int(HANDOFF_TIMEOUT_S)}
        t = time.perf_counter()
        status, raw = rnd.request("POST", "/agents/handoff", body, timeout=HANDOFF_TIMEOUT_S + 10)
        elapsed = time.perf_counter() - t
        answer = expect(status, raw, "POST /agents/handoff")
        if not answer.get("success"):
            raise BenchError(f"handoff failed: {answer.get('message')}")
        return elapsed, answer.get("output") or ""


class PySide(Side):
    provider = "mock_cli"
    busy_task = f"__mock_sleep_{BUSY_S:g}"  # mock_cli sleeps that many seconds
    busy_done = "MOCK: slept"  # then prints `> MOCK: slept <N>s` and its prompt

    def __init__(self, venv: Path, mockbin: Path):
        super().__init__(SIDE_PY)
        self.venv, self.mockbin = venv, mockbin

    def server_cmd(self, port: int) -> list[str]:
        return [str(self.venv / "bin" / "cao-server"), "--host", "127.0.0.1", "--port", str(port)]

    def cli_cmd(self) -> list[str]:
        return [str(self.venv / "bin" / "cao"), "session", "list"]

    def path_prepend(self) -> list[str]:
        # tmux panes run a login shell, which resets PATH from /etc/profile; the temporary
        # HOME's .bash_profile puts mock_cli back on it.
        return [str(self.mockbin)]

    def extra_env(self, tmp: Path, port: int) -> dict[str, str]:
        # CAO reads CAO_HOME_DIR (default ~/.aws/cli-agent-orchestrator) and CAO_API_HOST/PORT;
        # it runs tmux on the default socket, which TMUX_TMPDIR moves into our directory.
        return {
            "CAO_HOME_DIR": str(tmp / "data"),
            "CAO_API_HOST": "127.0.0.1",
            "CAO_API_PORT": str(port),
        }

    def tmux_socket(self, env: dict[str, str]) -> list[str]:
        return ["-S", f"{env['TMUX_TMPDIR']}/tmux-{os.getuid()}/default"]

    def prepare(self, tmp: Path) -> None:
        # The panes' login shell reads .bash_profile: turn on the timed mock_cli's input log.
        with open(tmp / "home" / ".bash_profile", "a") as profile:
            profile.write(f'export CAO_BENCH_MOCK_LOG="{tmp / "mock-cli.log"}"\n')

    def mcp_cmd(self) -> list[str]:
        return [str(self.venv / "bin" / "cao-mcp-server")]

    def _query(self, path: str, **params: str) -> str:
        return f"{path}?{urllib.parse.urlencode(params)}"

    def send_input(self, rnd: "Round", text: str) -> None:
        path = self._query(f"/terminals/{rnd.terminal_id}/input", message=text)
        expect(*rnd.request("POST", path), "POST /terminals/{id}/input")

    def queue_message(self, rnd: "Round", text: str) -> None:
        # CAO requires a sender; the receiver itself is a terminal CAO knows.
        path = self._query(f"/terminals/{rnd.terminal_id}/inbox/messages",
                           sender_id=rnd.terminal_id or "", message=text)
        expect(*rnd.request("POST", path), "POST /terminals/{id}/inbox/messages")

    def inputs_read(self, rnd: "Round") -> list[tuple[float, str]]:
        # Every mock_cli of the round appends here; during the inbox measurement the
        # supervisor's is the only one running.
        out = []
        try:
            lines = (rnd.tmp / "mock-cli.log").read_text(errors="replace").splitlines()
        except OSError:
            return out
        for line in lines:
            stamp, _, text = line.partition("\t")
            try:
                out.append((float(stamp), text))
            except ValueError:
                continue
        return out

    def handoff(self, rnd: "Round", message: str) -> tuple[float, str]:
        helper = Path(__file__).resolve().parent / "cao_mcp_handoff.py"
        cmd = [str(self.venv / "bin" / "python"), str(helper),
               "--server", str(self.venv / "bin" / "cao-mcp-server"),
               "--agent-profile", HANDOFF_PROFILE, "--message", message,
               "--timeout", str(HANDOFF_TIMEOUT_S)]
        env = dict(rnd.env, CAO_TERMINAL_ID=rnd.terminal_id or "")
        r = subprocess.run(cmd, env=env, cwd=rnd.tmp / "work", stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=HANDOFF_TIMEOUT_S + 60)
        if r.returncode != 0:
            raise BenchError(f"CAO handoff over MCP failed: "
                             f"{(r.stderr or r.stdout).decode(errors='replace').strip()[-800:]}")
        answer = json.loads(r.stdout.decode().strip().splitlines()[-1])
        result = answer.get("result")
        if answer.get("is_error") or not isinstance(result, dict) or not result.get("success"):
            raise BenchError(f"CAO handoff failed: {result}")
        return answer["seconds"], result.get("output") or ""


@dataclass
class Round:
    """One side's server for one round, and what the measurements share."""
    side: Side
    tmp: Path
    port: int
    env: dict[str, str]
    token: Optional[str] = None
    terminal_id: Optional[str] = None  # the supervisor made by `POST /sessions`
    session_name: Optional[str] = None

    def request(self, method: str, path: str, body: Optional[dict] = None,
                timeout: float = 30.0) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        return request(self.port, method, path, token=self.token, timeout=timeout, body=data)

    def tmux(self) -> list[str]:
        return ["tmux", *self.side.tmux_socket(self.env)]


def base_env(tmp: Path, side: Side, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CAO_") and k not in ("TMUX", "TMUX_PANE")}
    env.update(
        HOME=str(tmp / "home"),
        TMUX_TMPDIR=str(tmp / "tmux"),
        SHELL="/bin/bash",
        PATH=os.pathsep.join(side.path_prepend() + [os.environ.get("PATH", "/usr/bin:/bin")]),
    )
    env.update(side.extra_env(tmp, port))
    return env


def prepare_dirs(tmp: Path, side: Side) -> None:
    for d in ("home", "tmux", "data", "work"):
        (tmp / d).mkdir(mode=0o700)
    profile = "".join(f'export PATH="{p}:$PATH"\n' for p in side.path_prepend())
    (tmp / "home" / ".bash_profile").write_text(profile)
    side.prepare(tmp)


def read_token(data_dir: Path, deadline: float) -> str:
    path = data_dir / "server.token"
    while True:
        try:
            token = path.read_text().strip()
            if token:
                return token
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise BenchError(f"{path} not written by the server")
        time.sleep(0.005)


def stop_server(proc: subprocess.Popen) -> None:
    kill_tree(proc, STOP_GRACE_S, ask=lambda: proc.send_signal(signal.SIGTERM))


def first_input(rnd: Round, marker: str) -> Optional[float]:
    return next((at for at, text in rnd.side.inputs_read(rnd) if marker in text), None)


def measure_inbox(rnd: Round) -> float:
    """Receiver done -> message read: see the module docs; the same two instants on both
    sides, from the same kinds of observer."""
    side = rnd.side
    assert rnd.session_name
    body = f"bench inbox message {secrets.token_hex(4)}"
    with PaneWatcher(rnd.tmux(), rnd.session_name, rnd.env) as pane:
        since = pane.offset()
        side.send_input(rnd, side.busy_task)
        # Queue only once the agent has taken its task, so the message has to wait for it.
        wait_until(lambda: first_input(rnd, side.busy_task), 15.0, "the receiver to take its task")
        side.queue_message(rnd, body)
        queued = time.time()
        done = pane.wait_for(side.busy_done, since, BUSY_S + 30.0)
        if queued >= done:
            raise BenchError(f"the message was queued only after the receiver finished its "
                             f"{BUSY_S:g} s task; raise BUSY_S")
        arrived = wait_until(lambda: first_input(rnd, body), INBOX_ARRIVAL_TIMEOUT_S,
                             "the queued message to reach the receiver")
    return arrived - done


def measure_handoff(rnd: Round) -> float:
    nonce = secrets.token_hex(4)
    seconds, output = rnd.side.handoff(rnd, f"bench handoff {nonce}")
    if nonce not in output:
        raise BenchError(f"the handoff answered without the worker's reply: {output[:300]!r}")
    return seconds


def measure_mcp_start(rnd: Round) -> tuple[float, float]:
    """Spawn -> `initialize` answered, and the peak RSS after `initialize` and `tools/list`."""
    env = dict(rnd.env, CAO_TERMINAL_ID=rnd.terminal_id or "")
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": {"name": "cao-bench", "version": "1"}}}
    with open(rnd.tmp / "mcp-server.log", "ab") as errlog:
        t0 = time.perf_counter()
        proc = subprocess.Popen(rnd.side.mcp_cmd(), env=env, cwd=rnd.tmp / "work",
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog,
                                bufsize=0)
    try:
        rpc = JsonLines(proc)
        rpc.send(initialize)  # buffered in the pipe until the server reads it
        answer = rpc.reply(1, MCP_TIMEOUT_S)
        elapsed = time.perf_counter() - t0
        if "result" not in answer:
            raise BenchError(f"initialize -> {answer.get('error')}")
        rpc.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        rpc.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = rpc.reply(2, MCP_TIMEOUT_S)
        if "result" not in tools:
            raise BenchError(f"tools/list -> {tools.get('error')}")
        peak = sum(vm_kib(p, "VmHWM") for p in process_tree(proc.pid)) / 1024.0
        return elapsed, peak
    except BenchError as e:
        command = " ".join(rnd.side.mcp_cmd())
        raise BenchError(f"{command}: {e}\n{tail(rnd.tmp / 'mcp-server.log')}") from e
    finally:
        # A stdio MCP server ends at the end of its input.
        kill_tree(proc, 3.0, ask=lambda: close_input(proc))


def run_round(side: Side, keep: bool) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix=f"cao-bench-{side.name}."))
    port = free_port()
    prepare_dirs(tmp, side)
    env = base_env(tmp, side, port)
    rnd = Round(side, tmp, port, env)
    server_log = tmp / "server.log"
    out: dict[str, float] = {}
    proc: Optional[subprocess.Popen] = None
    try:
        with open(server_log, "wb") as logf:
            t0 = time.perf_counter()
            proc = subprocess.Popen(side.server_cmd(port), env=env, cwd=tmp / "work",
                                    stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT)
        # 1. spawn -> first 200 from /health, polled every 5 ms
        next_poll = t0
        while True:
            try:
                status, _ = request(port, "GET", "/health", timeout=2.0)
                if status == 200:
                    out["server_start"] = time.perf_counter() - t0
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                raise BenchError(f"server exited with code {proc.returncode} before /health "
                                 f"answered:\n{tail(server_log)}")
            if time.perf_counter() - t0 > HEALTH_TIMEOUT_S:
                raise BenchError(f"/health did not answer 200 within {HEALTH_TIMEOUT_S:.0f} s:\n"
                                 f"{tail(server_log)}")
            next_poll += HEALTH_POLL_S
            delay = next_poll - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                next_poll = time.perf_counter()

        if side.needs_token:
            rnd.token = read_token(tmp / "data", time.monotonic() + 5.0)

        # 2. idle RSS of the server's process tree ~1 s after health
        time.sleep(IDLE_SETTLE_S)
        out["idle_rss"] = sum(vm_kib(p) for p in process_tree(proc.pid)) / 1024.0

        # 3. CLI `session list`
        cli = side.cli_cmd()
        t = time.perf_counter()
        r = subprocess.run(cli, env=env, cwd=tmp / "work", stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        elapsed = time.perf_counter() - t
        if r.returncode != 0:
            raise BenchError(f"`{' '.join(cli)}` exited {r.returncode}: "
                             f"{(r.stderr or r.stdout).decode(errors='replace').strip()[-500:]}")
        out["session_list"] = elapsed

        # 4. POST /sessions with the mock provider, then wait for idle/completed
        path = f"/sessions?provider={side.provider}&agent_profile=developer"
        t = time.perf_counter()
        status, body = rnd.request("POST", path, timeout=READY_TIMEOUT_S)
        out["session_created"] = time.perf_counter() - t
        if status != 201:
            raise BenchError(f"POST {path} -> {status}: {body.decode(errors='replace')[:500]}")
        term = json.loads(body)
        rnd.session_name = term.get("session_name")
        tid = rnd.terminal_id = term["id"]
        while True:
            status, body = rnd.request("GET", f"/terminals/{tid}")
            if status == 200 and json.loads(body).get("status") in READY_STATUSES:
                out["session_ready"] = time.perf_counter() - t
                break
            if status != 200:
                raise BenchError(f"GET /terminals/{tid} -> {status}: "
                                 f"{body.decode(errors='replace')[:300]}")
            if json.loads(body).get("status") == "error":
                raise BenchError(f"terminal {tid} went to status error:\n{tail(server_log)}")
            if time.perf_counter() - t > READY_TIMEOUT_S:
                raise BenchError(f"terminal {tid} not ready within {READY_TIMEOUT_S:.0f} s")
            time.sleep(READY_POLL_S)

        # 5. the team: that terminal is the supervisor and the inbox's receiver
        out["inbox_latency"] = measure_inbox(rnd)
        out["handoff"] = measure_handoff(rnd)
        if "mcp_start" not in side.unavailable:
            out["mcp_start"], out["mcp_rss"] = measure_mcp_start(rnd)
        return out
    finally:
        if proc is not None and proc.poll() is None and rnd.session_name:
            try:
                rnd.request("DELETE", f"/sessions/{rnd.session_name}", timeout=15.0)
            except OSError:
                pass
        if proc is not None:
            stop_server(proc)
        subprocess.run([*rnd.tmux(), "kill-server"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        if keep:
            log(f"   (kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Report


def fmt_value(unit: str, v: Optional[float]) -> str:
    if v is None:
        return "n/a"
    if unit == "MiB":
        return f"{v:.1f} MiB"
    if v < 1.0:
        return f"{v * 1000:.1f} ms"
    return f"{v:.2f} s"


def summarize(samples: list[float]) -> Optional[dict]:
    if not samples:
        return None
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "samples": samples}


def machine_info() -> dict:
    info = {"host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
        info["mem_gib"] = round(int(mem) / 1024 / 1024, 1)
    except (OSError, IndexError, ValueError):
        pass
    try:
        info["loadavg_1m_at_end"] = os.getloadavg()[0]
    except OSError:
        pass
    try:
        info["tmux"] = subprocess.run(["tmux", "-V"], capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return info


def build_report(sides: dict[str, Side], rounds: int) -> dict:
    measurements = []
    for m in MEASURES:
        row: dict = {"name": m.key, "label": m.label, "unit": m.unit, "target": m.target}
        for name in (SIDE_CAO, SIDE_PY):
            side = sides.get(name)
            row[name.replace("-", "_")] = summarize(side.samples.get(m.key, [])) if side else None
        a, b = row["cao"], row["cao_python"]
        row["ratio"] = (b["median"] / a["median"]) if a and b and a["median"] > 0 else None
        row["target_met"] = (a["median"] <= m.target) if a and m.target is not None else None
        measurements.append(row)
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "rounds": rounds,
        "sides": {n: {"label": SIDE_LABEL[n], "error": s.error, "unavailable": s.unavailable}
                  for n, s in sides.items()},
        "measurements": measurements,
    }


def print_table(report: dict) -> None:
    rows = [("measurement", "cao median (max)", f"CAO {CAO_VERSION} median (max)",
             "CAO / cao", "cao target")]
    for m, spec in zip(report["measurements"], MEASURES):
        def cell(s):
            if not s:
                return "n/a"
            return f"{fmt_value(m['unit'], s['median'])} ({fmt_value(m['unit'], s['max'])})"
        ratio = m["ratio"]
        if ratio is None:
            rtxt = "n/a"
        elif m["unit"] == "MiB":
            rtxt = f"x{ratio:.1f} smaller" if ratio >= 1 else f"x{1 / ratio:.1f} larger"
        else:
            rtxt = f"x{ratio:.1f} faster" if ratio >= 1 else f"x{1 / ratio:.1f} slower"
        target = spec.target_text
        if m["target_met"] is not None:
            target += " met" if m["target_met"] else " MISSED"
        rows.append((m["label"], cell(m["cao"]), cell(m["cao_python"]), rtxt, target))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    mi = report["machine"]
    print(f"cao vs CAO {CAO_VERSION}: {report['rounds']} rounds, {report['date']}, "
          f"{mi.get('cpus')} CPUs {mi.get('cpu', '')}, {mi.get('tmux', '')}, "
          f"load {mi.get('loadavg_1m_at_end', 0):.2f}")
    for i, r in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for name, s in report["sides"].items():
        if s["error"]:
            print(f"{s['label']}: NOT MEASURED: {s['error']}")
        for key, reason in s["unavailable"].items():
            print(f"{s['label']}: {key} not available: {reason}")


# --------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5, help="rounds per side (default 5)")
    ap.add_argument("--cao-bin", help="cao binary (default target/release/cao, built if missing)")
    ap.add_argument("--only", choices=[SIDE_CAO, SIDE_PY], help="measure one side only")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ap.add_argument("--keep", action="store_true", help="keep each round's temporary directory")
    ap.add_argument("--cache", default=os.environ.get("CAO_BENCH_CACHE",
                    str(Path.home() / ".cache" / "cao-bench")),
                    help="where CAO's venv is cached (env CAO_BENCH_CACHE)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if shutil.which("tmux") is None:
        log("tmux is not installed")
        return 2
    repo = Path(__file__).resolve().parent.parent
    load = os.getloadavg()[0]
    if load > 0.5:
        log(f"!! load average {load:.2f}: other work is running, numbers will be noisy")

    sides: dict[str, Side] = {}
    wanted = [args.only] if args.only else [SIDE_CAO, SIDE_PY]
    for name in wanted:
        try:
            if name == SIDE_CAO:
                sides[name] = CaoSide(ensure_cao_bin(repo, args.cao_bin))
            else:
                sides[name] = PySide(*ensure_cao_python(Path(args.cache)))
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            sides[name] = Side(name)
            sides[name].error = f"setup failed: {e}"
            log(f"!! {SIDE_LABEL[name]}: setup failed: {e}")

    for side in sides.values():
        for key, reason in side.unavailable.items():
            log(f"!! {SIDE_LABEL[side.name]}: {key} not available: {reason}")

    for rnd in range(args.rounds):
        order = list(sides.values())
        if rnd % 2 == 1:
            order.reverse()  # alternate who goes first so drift hits both alike
        for side in order:
            if side.error:
                continue
            log(f"== round {rnd + 1}/{args.rounds}: {SIDE_LABEL[side.name]}")
            try:
                res = run_round(side, args.keep)
            except (BenchError, OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
                side.error = f"round {rnd + 1}: {type(e).__name__}: {e}"
                log(f"!! {SIDE_LABEL[side.name]}: {side.error}")
                continue
            for k, v in res.items():
                side.samples.setdefault(k, []).append(v)
            log("   " + ", ".join(f"{k} {fmt_value(MEASURE_UNIT[k], v)}" for k, v in res.items()))

    report = build_report(sides, args.rounds)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    failed = [s for s in sides.values() if s.error]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
