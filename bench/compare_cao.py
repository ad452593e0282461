#!/usr/bin/env python3
"""Side-by-side benchmark of cao (this project, Rust) and CAO 2.5.4 (Python, from PyPI).

Run through `bench/compare-cao.sh`; `--help` lists the options.

Every round starts each side's server from nothing in its own temporary directory (HOME, data
directory, TMUX_TMPDIR, tmux socket) on a free loopback port, measures, and tears everything
down again: the session is deleted, the server gets SIGTERM by pid (SIGKILL after 3 s) and the
private tmux server is killed through its own socket. Nothing touches the user's tmux server.

Measurements (per side, per round; median and min over rounds are reported):
  server_start      spawn -> first 200 from GET /health, polled every 5 ms
  idle_rss          VmRSS of the server's process tree ~1 s after health
  session_list      wall time of the CLI's `session list` against that server
  session_created   POST /sessions?provider=<mock>&agent_profile=developer -> 201
  session_ready     the same POST -> GET /terminals/{id} says idle or completed

The benchmark reports; it does not assert targets. It exits nonzero only when a measurement
could not be taken at all, and says why.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
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
]


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
    """Returns (venv, mock_bin_dir); installs CAO and its mock_cli into the cache when absent."""
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
    return venv, mockbin


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


def vm_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0  # gone, or a zombie/kernel thread without VmRSS


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + l for l in lines[-n:])


# --------------------------------------------------------------------------------------------
# One side


@dataclass
class Side:
    name: str
    server_cmd: list[str]
    cli_cmd: list[str]
    provider: str
    path_prepend: list[str]
    needs_token: bool
    extra_env: Callable[[Path, int], dict[str, str]]
    tmux_kill: Callable[[Path, dict[str, str]], list[str]]
    error: Optional[str] = None
    samples: dict[str, list[float]] = field(default_factory=dict)


def make_cao_side(cao_bin: Path) -> Side:
    def env(tmp: Path, port: int) -> dict[str, str]:
        return {
            "CAO_HOME_DIR": str(tmp / "data"),
            "CAO_TMUX_SOCKET": f"cao-bench-{os.getpid()}-{tmp.name.rsplit('.', 1)[-1]}",
            "CAO_API_HOST": "127.0.0.1",
            "CAO_API_PORT": str(port),
        }

    def kill(tmp: Path, e: dict[str, str]) -> list[str]:
        return ["tmux", "-L", e["CAO_TMUX_SOCKET"], "kill-server"]

    return Side(
        name=SIDE_CAO,
        server_cmd=[str(cao_bin), "server", "--host", "127.0.0.1", "--port", "{port}"],
        cli_cmd=[str(cao_bin), "session", "list"],
        provider="mock",
        path_prepend=[str(cao_bin.parent)],
        needs_token=True,
        extra_env=env,
        tmux_kill=kill,
    )


def make_py_side(venv: Path, mockbin: Path) -> Side:
    def env(tmp: Path, port: int) -> dict[str, str]:
        # CAO reads CAO_HOME_DIR (default ~/.aws/cli-agent-orchestrator) and CAO_API_HOST/PORT;
        # it runs tmux on the default socket, which TMUX_TMPDIR moves into our directory.
        return {
            "CAO_HOME_DIR": str(tmp / "data"),
            "CAO_API_HOST": "127.0.0.1",
            "CAO_API_PORT": str(port),
        }

    def kill(tmp: Path, e: dict[str, str]) -> list[str]:
        return ["tmux", "-S", f"{e['TMUX_TMPDIR']}/tmux-{os.getuid()}/default", "kill-server"]

    return Side(
        name=SIDE_PY,
        server_cmd=[str(venv / "bin" / "cao-server"), "--host", "127.0.0.1", "--port", "{port}"],
        cli_cmd=[str(venv / "bin" / "cao"), "session", "list"],
        provider="mock_cli",
        # tmux panes run a login shell, which resets PATH from /etc/profile; the temporary
        # HOME's .bash_profile puts mock_cli back on it.
        path_prepend=[str(mockbin)],
        needs_token=False,
        extra_env=env,
        tmux_kill=kill,
    )


def base_env(tmp: Path, side: Side, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CAO_") and k not in ("TMUX", "TMUX_PANE")}
    env.update(
        HOME=str(tmp / "home"),
        TMUX_TMPDIR=str(tmp / "tmux"),
        SHELL="/bin/bash",
        PATH=os.pathsep.join(side.path_prepend + [os.environ.get("PATH", "/usr/bin:/bin")]),
    )
    env.update(side.extra_env(tmp, port))
    return env


def prepare_dirs(tmp: Path, side: Side) -> None:
    for d in ("home", "tmux", "data", "work"):
        (tmp / d).mkdir(mode=0o700)
    profile = "".join(f'export PATH="{p}:$PATH"\n' for p in side.path_prepend)
    (tmp / "home" / ".bash_profile").write_text(profile)


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
    if proc.poll() is not None:
        return
    tree = process_tree(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pid in tree[1:]:  # workers or helpers the server left behind
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_round(side: Side, keep: bool) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix=f"cao-bench-{side.name}."))
    port = free_port()
    prepare_dirs(tmp, side)
    env = base_env(tmp, side, port)
    server_log = tmp / "server.log"
    cmd = [a.replace("{port}", str(port)) for a in side.server_cmd]
    out: dict[str, float] = {}
    proc: Optional[subprocess.Popen] = None
    session_name: Optional[str] = None
    token: Optional[str] = None
    try:
        with open(server_log, "wb") as logf:
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, env=env, cwd=tmp / "work", stdin=subprocess.DEVNULL,
                                    stdout=logf, stderr=subprocess.STDOUT)
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
            token = read_token(tmp / "data", time.monotonic() + 5.0)

        # 2. idle RSS of the server's process tree ~1 s after health
        time.sleep(IDLE_SETTLE_S)
        out["idle_rss"] = sum(vm_rss_kib(p) for p in process_tree(proc.pid)) / 1024.0

        # 3. CLI `session list`
        t = time.perf_counter()
        r = subprocess.run(side.cli_cmd, env=env, cwd=tmp / "work", stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60)
        elapsed = time.perf_counter() - t
        if r.returncode != 0:
            raise BenchError(f"`{' '.join(side.cli_cmd)}` exited {r.returncode}: "
                             f"{(r.stderr or r.stdout).decode(errors='replace').strip()[-500:]}")
        out["session_list"] = elapsed

        # 4. POST /sessions with the mock provider, then wait for idle/completed
        path = f"/sessions?provider={side.provider}&agent_profile=developer"
        t = time.perf_counter()
        status, body = request(port, "POST", path, token=token, timeout=READY_TIMEOUT_S)
        out["session_created"] = time.perf_counter() - t
        if status != 201:
            raise BenchError(f"POST {path} -> {status}: {body.decode(errors='replace')[:500]}")
        term = json.loads(body)
        session_name = term.get("session_name")
        tid = term["id"]
        while True:
            status, body = request(port, "GET", f"/terminals/{tid}", token=token)
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
        return out
    finally:
        if proc is not None and proc.poll() is None and session_name:
            try:
                request(port, "DELETE", f"/sessions/{session_name}", token=token, timeout=15.0)
            except OSError:
                pass
        if proc is not None:
            stop_server(proc)
        subprocess.run(side.tmux_kill(tmp, env), env=env, stdout=subprocess.DEVNULL,
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
    return {"median": statistics.median(samples), "min": min(samples), "samples": samples}


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
        "sides": {n: {"label": SIDE_LABEL[n], "error": s.error} for n, s in sides.items()},
        "measurements": measurements,
    }


def print_table(report: dict) -> None:
    rows = [("measurement", "cao median (min)", f"CAO {CAO_VERSION} median (min)",
             "CAO / cao", "cao target")]
    for m, spec in zip(report["measurements"], MEASURES):
        def cell(s):
            if not s:
                return "n/a"
            return f"{fmt_value(m['unit'], s['median'])} ({fmt_value(m['unit'], s['min'])})"
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
                sides[name] = make_cao_side(ensure_cao_bin(repo, args.cao_bin))
            else:
                sides[name] = make_py_side(*ensure_cao_python(Path(args.cache)))
        except (BenchError, OSError, subprocess.SubprocessError) as e:
            sides[name] = Side(name, [], [], "", [], False, lambda t, p: {}, lambda t, e: [])
            sides[name].error = f"setup failed: {e}"
            log(f"!! {SIDE_LABEL[name]}: setup failed: {e}")

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
            log("   " + ", ".join(f"{k} {fmt_value('MiB' if k == 'idle_rss' else 's', v)}"
                                  for k, v in res.items()))

    report = build_report(sides, args.rounds)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    failed = [s for s in sides.values() if s.error]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
