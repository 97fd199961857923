"""The local stack's processes: the emulator (MiniStack), the fault proxy in front of its
DynamoDB and SQS (test instance), and the redis-server nodes; started, checked and stopped.
A mixin of `stack.Instance`, which holds the ports and paths they use."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from instances import CREDENTIALS, REGION, ROOT


def log(msg):
    print(f"[stack] {msg}", flush=True)


def die(msg):
    print(f"[stack] error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


class Servers:
    def pid_alive(self, pidfile):
        try:
            pid = int(Path(pidfile).read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def emulator_healthy(self):
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_ministack/health", timeout=2) as r:
                return r.status == 200
        except Exception:
            return False

    def port_busy(self, port):
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    def start_emulator(self):
        pidfile = self.state / "ministack.pid"
        if self.pid_alive(pidfile) and self.emulator_healthy():
            log(f"emulator already running on :{self.port}")
            return False
        if self.emulator_healthy():
            # Started from another checkout (or a run whose state dir is gone): use it, and
            # leave stopping it to whoever started it.
            log(f"adopting the emulator already answering on :{self.port}")
            return False
        if self.port_busy(self.port):
            die(f"port {self.port} is in use by something this script did not start; stop it first")
        exe = Path(sys.executable).parent / "ministack"
        # Endpoint overrides in the caller's shell must not leak into the function processes.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL_")}
        env = {
            **inherited,
            **CREDENTIALS,
            "GATEWAY_PORT": str(self.port),
            "BIND_HOST": "127.0.0.1",
            # Function processes inherit this: without it the SDK in them would call real AWS.
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "LOG_LEVEL": "INFO",
            # The IoT broker would listen on 0.0.0.0:8883; nothing here uses it.
            "IOT_MTLS_PORT": "0",
            # Cognito's signing keys live here; per instance, so dev and test never share them.
            "STATE_DIR": str(self.state / "emulator-state"),
            # The emulator answers every ElastiCache endpoint with this address: point it at a
            # real node, so discovery through its API yields a usable node.
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.redis_ports[0]),
            # Function processes inherit the emulator's environment: local-only settings.
            **self.function_env,
        }
        out = open(self.logs / "ministack.log", "ab")
        proc = subprocess.Popen([str(exe)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=self.state, start_new_session=True)
        pidfile.write_text(str(proc.pid))
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.emulator_healthy():
                log(f"emulator up on {self.endpoint} (pid {proc.pid})")
                return True
            if proc.poll() is not None:
                die(f"the emulator exited with {proc.returncode}; see {self.logs / 'ministack.log'}")
            time.sleep(0.2)
        die("the emulator did not answer its health check within 60 s")

    def start_fault_proxy(self):
        if not self.fault_proxy:
            return
        pidfile = self.state / "fault-proxy.pid"
        if self.pid_alive(pidfile) or self.port_busy(self.fault_proxy):
            return
        out = open(self.logs / "fault-proxy.log", "ab")
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "fault_proxy.py"), "--listen",
                                 f"127.0.0.1:{self.fault_proxy}", "--upstream", self.endpoint],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        pidfile.write_text(str(proc.pid))
        deadline = time.time() + 10
        while not self.port_busy(self.fault_proxy):
            if time.time() > deadline or proc.poll() is not None:
                die("the DynamoDB fault proxy did not start; see its log")
            time.sleep(0.1)
        log(f"DynamoDB fault proxy on 127.0.0.1:{self.fault_proxy} (faults off)")

    def stop_fault_proxy(self):
        pidfile = self.state / "fault-proxy.pid"
        pid = self.pid_alive(pidfile)
        if pid:
            os.kill(pid, signal.SIGTERM)
        pidfile.unlink(missing_ok=True)

    def stop_emulator(self):
        pidfile = self.state / "ministack.pid"
        pid = self.pid_alive(pidfile)
        if pid:
            # The emulator runs in its own session with the function processes it started:
            # signal the whole group so no bootstrap is left behind.
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(pid, sig)
                except OSError:
                    pass
                for _ in range(50):
                    if not self.group_alive(pid):
                        break
                    time.sleep(0.1)
                if not self.group_alive(pid):
                    break
            log(f"emulator stopped (pid {pid})")
        pidfile.unlink(missing_ok=True)

    @staticmethod
    def group_alive(pgid):
        try:
            os.killpg(pgid, 0)
            return True
        except OSError:
            return False

    def redis_ping(self, port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start_redis(self):
        exe = shutil.which("redis-server")
        if not exe:
            die("redis-server is not installed (run scripts/bootstrap.sh)")
        data = self.state / "redis"
        data.mkdir(parents=True, exist_ok=True)
        for port in self.redis_ports:
            pidfile = data / f"redis-{port}.pid"
            if self.redis_ping(port):
                if not self.pid_alive(pidfile):
                    log(f"adopting the redis-server already answering on :{port}")
                continue
            if self.port_busy(port):
                die(f"port {port} is in use by something this script did not start")
            subprocess.run([exe, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
                            "--pidfile", str(pidfile), "--logfile", str(self.logs / f"redis-{port}.log"),
                            "--dir", str(data), "--save", "", "--appendonly", "no",
                            "--protected-mode", "yes"], check=True)
        deadline = time.time() + 10
        while not all(self.redis_ping(p) for p in self.redis_ports):
            if time.time() > deadline:
                die("redis nodes did not answer PING within 10 s")
            time.sleep(0.1)
        log("redis nodes up on " + ", ".join(f"127.0.0.1:{p}" for p in self.redis_ports))

    def stop_redis(self):
        data = self.state / "redis"
        for port in self.redis_ports:
            pidfile = data / f"redis-{port}.pid"
            pid = self.pid_alive(pidfile)
            if pid:
                os.kill(pid, signal.SIGTERM)
                for _ in range(50):
                    if not self.pid_alive(pidfile):
                        break
                    time.sleep(0.1)
            pidfile.unlink(missing_ok=True)
        log("redis nodes stopped")
