"""How bench_report.py runs its benchmarks: each command bounded in time, its output kept or
replayed (Runner), and the local bench stack the drain and load benchmarks need, used as found
or started and stopped again (TestStack). Standard library only."""
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench_parse import BenchError
from bench_render import shell
from instances import INSTANCES, read_endpoints  # scripts/instances.py: where each local stack lives

ROOT = Path(__file__).resolve().parent.parent
PY = ROOT / ".venv" / "bin" / "python"
BENCHES = ("guid", "og", "drain", "load")
INSTANCE = "bench"  # scripts/stack.py's instance for benchmarks
TEST_STATE = INSTANCES[INSTANCE]["state"]
TEST_ENDPOINTS = TEST_STATE / "endpoints.env"
TEST_EMULATOR = f"http://127.0.0.1:{INSTANCES[INSTANCE]['port']}"
GUID_CAP = 4_096_000  # ids/s: 4,096 ids per millisecond, the id layout's limit


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def env_int(name, default, lo, hi):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise SystemExit(f"bench_report.py: {name}={raw!r} is not an integer")
    if not lo <= v <= hi:
        raise SystemExit(f"bench_report.py: {name}={v} must be in {lo}..{hi}")
    return v


# ---------------------------------------------------------------- running commands
class Runner:
    """Runs a command from the repository root, its stderr straight to ours and its stdout
    echoed to our stderr line by line as well as captured. Or, in replay, reads the stdout a
    previous run saved."""

    def __init__(self, save_dir=None, replay_dir=None, timeout_s=3600):
        self.save_dir = Path(save_dir) if save_dir else None
        self.replay_dir = Path(replay_dir) if replay_dir else None
        self.timeout_s = timeout_s
        self.current = None
        if self.save_dir:
            self.save_dir.mkdir(parents=True, exist_ok=True)

    def run(self, name, cmd, env=None):
        """stdout of `cmd` (a list); BenchError unless it exits 0."""
        if self.replay_dir:
            path = self.replay_dir / f"{name}.out"
            try:
                return path.read_text()
            except OSError as e:
                raise BenchError(f"{name}: replay: cannot read {path}: {e}") from None
        log(f"{name}: {shell(cmd)}")
        t0 = time.monotonic()
        proc = subprocess.Popen([str(c) for c in cmd], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
                                bufsize=1, start_new_session=True)
        self.current = proc
        timed_out = []

        def kill():
            timed_out.append(True)
            self.kill_current()

        timer = threading.Timer(self.timeout_s, kill)
        timer.start()
        lines = []
        try:
            for line in proc.stdout:
                lines.append(line)
                sys.stderr.write(line)
                sys.stderr.flush()
            rc = proc.wait()
        except BaseException:  # Ctrl-C, SIGTERM: the child runs in a session of its own
            self.kill_current()
            raise
        finally:
            timer.cancel()
            self.current = None
        out = "".join(lines)
        if self.save_dir:
            (self.save_dir / f"{name}.out").write_text(out)
        if timed_out:
            raise BenchError(f"{name}: `{shell(cmd)}` did not finish in {self.timeout_s} s (killed)")
        if rc != 0:
            raise BenchError(f"{name}: `{shell(cmd)}` exited {rc}")
        log(f"{name}: done in {time.monotonic() - t0:.0f} s")
        return out

    def kill_current(self):
        proc = self.current
        if proc and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ---------------------------------------------------------------- the bench stack
def api_answers(api_url):
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/v1/guid/1", timeout=10) as r:
            return r.status == 200
    except Exception:
        return False


def emulator_answers():
    try:
        with urllib.request.urlopen(f"{TEST_EMULATOR}/_ministack/health", timeout=3) as r:
            return r.status == 200
    except Exception:
        return False


class TestStack:
    """The bench stack for drain and load: used as found if it answers, else started (and then
    stopped by stop())."""

    def __init__(self, runner):
        self.runner = runner
        self.started = False
        self.env = None

    def ensure(self):
        if self.env is not None:
            return self.env
        if self.runner.replay_dir:
            self.env = {}
            return self.env
        if TEST_ENDPOINTS.exists() and api_answers(read_endpoints(TEST_ENDPOINTS).get("API_URL", "")):
            log(f"bench stack answers ({TEST_ENDPOINTS.relative_to(ROOT)}); using it, leaving it running")
        elif emulator_answers():
            # Someone else's stack, being deployed or torn down: a second
            # `up` on top of it could break both.
            raise BenchError(f"the bench emulator ({TEST_EMULATOR}) is up but the stack's API does not answer (someone "
                             "deploying it?); retry later, or stop it: "
                             ".venv/bin/python scripts/stack.py down --instance bench")
        else:
            log("bench stack down; starting it (and stopping it at the end)")
            self.started = True
            try:
                subprocess.run([str(PY), "scripts/stack.py", "up", "--instance", INSTANCE], cwd=ROOT, check=True,
                               stdout=sys.stderr)
            except subprocess.CalledProcessError as e:
                raise BenchError(f"`scripts/stack.py up --instance {INSTANCE}` exited {e.returncode}") from None
            if not TEST_ENDPOINTS.exists():
                raise BenchError(f"the bench stack is up but {TEST_ENDPOINTS} is missing")
            if not api_answers(read_endpoints(TEST_ENDPOINTS).get("API_URL", "")):
                raise BenchError("the bench stack was deployed but GET /v1/guid/1 does not answer 200")
        self.env = read_endpoints(TEST_ENDPOINTS)
        return self.env

    def stop(self):
        if self.started:
            log("stopping the bench stack this script started")
            subprocess.run([str(PY), "scripts/stack.py", "down", "--instance", INSTANCE], cwd=ROOT, stdout=sys.stderr)
            self.started = False
