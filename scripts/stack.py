#!/usr/bin/env python3
"""The local stack: the AWS emulator (MiniStack), three redis-server nodes, and template.yaml
deployed into the emulator through CloudFormation. No Docker.

usage: stack.py up|down|dev|status|logs [--instance dev|test] [--no-build] [--json-logs]
       stack.py invoke <function> <event.json>   e.g. invoke guid events/guid-one.json

  up      start what is not running, build the functions, deploy (create or update) the stack,
          write <state>/endpoints.env; safe to re-run.
  dev     `up`, then follow the logs in the foreground; Ctrl-C stops everything it started.
  down    stop the emulator (and the function processes it runs) and the Redis nodes.
  status  say what is running.
  logs    follow the logs of the emulator, the functions and Redis. Function lines are shown
          readable (time, level, function, message, fields, trace id; EMF records as
          `EMF name=value`); --json-logs prints them as written, JSON as in AWS.
  invoke  send a sample event (events/) straight to a deployed function, print its answer.

Three instances can run side by side: `dev` (emulator :4566, Redis :6380-6382, state in .local/)
for people, `test` (:4599, :6390-6392, .local/test/) for `make test`, so the test suite never
touches a stack someone is using, and `bench` (:4588, :6385-6387, .local/bench/) for `make bench`.

Runs on the project venv's Python (boto3 comes with the emulator). Endpoints come only from the
standard AWS settings, as the functions and the tests see them.
"""
import argparse
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
INSTANCES = {
    "dev": {"port": 4566, "redis": [6380, 6381, 6382], "state": ROOT / ".local", "stack": "post-service",
            "params": {}, "function_env": {}, "fault_proxy": None},
    # The test stack lets the scrap function fetch from loopback, where the tests serve their
    # pages (the template never sets this), and raises the per-caller scrap limit: every test
    # request comes from 127.0.0.1, and the limiter has tests of its own against Redis. Failed
    # post messages come back early on their own (queue-drain changes their visibility).
    # The functions reach DynamoDB and SQS through a fault-injecting proxy (faults off until a
    # test turns them on: scripts/fault_proxy.py). Event source mappings run inside the
    # emulator and do not pass through it.
    "test": {"port": 4599, "redis": [6390, 6391, 6392], "state": ROOT / ".local" / "test", "stack": "post-service-test",
             "params": {"ScrapRateLimit": "1000000", "CompatWriteEnabled": "true"},
             "function_env": {"SCRAP_ALLOW_LOOPBACK": "true"}, "fault_proxy": 4598},
    # `make bench`'s own stack: template defaults, no fault proxy in the way, and never the stack
    # a `make test` is disturbing at the same moment.
    "bench": {"port": 4588, "redis": [6385, 6386, 6387], "state": ROOT / ".local" / "bench",
              "stack": "post-service-bench", "params": {}, "function_env": {}, "fault_proxy": None},
}
BUCKET = "post-service-artifacts"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def log(msg):
    print(f"[stack] {msg}", flush=True)


def die(msg):
    print(f"[stack] error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def function_name(output_prefix):
    """`PostWrite` (from the output `PostWriteLogGroupName`) -> `post-write`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", output_prefix).lower()


def pretty(fn, line):
    """One function log line, readable: the functions write JSON (what CloudWatch indexes in
    AWS); locally `make dev` shows time, level, function, message, fields and the trace id."""
    try:
        j = json.loads(line)
    except ValueError:
        return f"{'':12} {'':5} {fn:12} {line}"  # the runtime's START / END / REPORT lines
    if not isinstance(j, dict):
        return f"{'':12} {'':5} {fn:12} {line}"
    span = j.pop("span", {}) if isinstance(j.get("span"), dict) else {}
    trace = span.get("trace_id") or j.pop("trace_id", "")
    if "_aws" in j:
        aws = j.pop("_aws")
        names = [m.get("Name") for cw in aws.get("CloudWatchMetrics", []) for m in cw.get("Metrics", [])]
        ts = time.strftime("%H:%M:%S", time.gmtime(aws.get("Timestamp", 0) / 1000))
        dims = " ".join(f"{k}={j[k]}" for k in ("route", "status", "node") if k in j)
        values = " ".join(f"{n}={j[n]:g}" if isinstance(j.get(n), (int, float)) else f"{n}={j.get(n)}" for n in names)
        return f"{ts:12} {'EMF':5} {fn:12} {values} {dims}" + (f"  trace={trace}" if trace else "")
    ts = str(j.pop("timestamp", ""))[11:23]
    level, message = j.pop("level", ""), j.pop("message", "")
    j.update({k: v for k, v in span.items() if k not in ("name", "requestId", "trace_id")})
    fields = " ".join(f"{k}={v}" for k, v in j.items() if v != "")
    return f"{ts:12} {level:5} {fn:12} {message}" + (f"  {fields}" if fields else "") + (f"  trace={trace}" if trace else "")


class Instance:
    def __init__(self, name):
        cfg = INSTANCES[name]
        self.name = name
        self.port = cfg["port"]
        self.redis_ports = cfg["redis"]
        self.state = cfg["state"]
        self.stack = cfg["stack"]
        self.params = cfg["params"]
        self.function_env = dict(cfg["function_env"])
        self.fault_proxy = cfg["fault_proxy"]
        if self.fault_proxy:
            self.function_env["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{self.fault_proxy}"
            self.function_env["AWS_ENDPOINT_URL_SQS"] = f"http://127.0.0.1:{self.fault_proxy}"
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.logs = self.state / "logs"
        self.raw_logs = False

    # ------------------------------------------------------------------ processes
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

    # ------------------------------------------------------------------ build and deploy
    def functions(self):
        text = (ROOT / "template.yaml").read_text()
        names = re.findall(r"^\s*CodeUri:\s*functions/([\w-]+)\s*$", text, re.M)
        if not names:
            die("template.yaml names no function under functions/")
        return names

    def build(self, names):
        cmd = ["cargo", "build", "--release", "--locked"] + [a for n in names for a in ("-p", n)]
        log("building " + ", ".join(names))
        subprocess.run(cmd, cwd=ROOT, check=True)

    def target_dir(self):
        meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                              check=True, capture_output=True, text=True)
        return Path(json.loads(meta.stdout)["target_directory"])

    def client(self, service):
        import boto3
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="test", aws_secret_access_key="test")

    def package(self, names):
        """Zips each function's binary as `bootstrap` and uploads it; returns name -> s3 URI."""
        s3 = self.client("s3")
        try:
            s3.create_bucket(Bucket=BUCKET)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        release = self.target_dir() / "release"
        uris = {}
        for name in names:
            binary = release / name
            if not binary.exists():
                die(f"{binary} is missing: build failed?")
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o100755 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, binary.read_bytes())
            data = buf.getvalue()
            key = f"{name}-{hashlib.sha256(data).hexdigest()[:16]}.zip"
            s3.put_object(Bucket=BUCKET, Key=key, Body=data)
            uris[name] = f"s3://{BUCKET}/{key}"
        return uris

    def deploy(self, uris):
        text = (ROOT / "template.yaml").read_text()
        for name, uri in uris.items():
            text = re.sub(rf"^(\s*CodeUri:\s*)functions/{re.escape(name)}\s*$", rf"\g<1>{uri}", text, flags=re.M)
        (self.state / "template.deployed.yaml").write_text(text)
        # Through S3, as `sam deploy` does: an inline body may hold only 51,200 bytes.
        key = f"templates/{self.stack}.yaml"
        self.client("s3").put_object(Bucket=BUCKET, Key=key, Body=text.encode())
        template = {"TemplateURL": f"{self.endpoint}/{BUCKET}/{key}"}
        cfn = self.client("cloudformation")
        values = {
            "LogLevel": "INFO",
            "CacheNodes": ",".join(f"127.0.0.1:{p}" for p in self.redis_ports),
            "InternetEgress": "none",
            **self.params,
        }
        params = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
        caps = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
        exists = self.stack_status(cfn) not in (None, "DELETE_COMPLETE")
        if exists and self.stack_status(cfn).endswith("FAILED"):
            log(f"stack {self.stack} is in {self.stack_status(cfn)}: deleting it first")
            cfn.delete_stack(StackName=self.stack)
            self.wait_stack(cfn, {"DELETE_COMPLETE", None})
            exists = False
        if exists:
            try:
                cfn.update_stack(StackName=self.stack, **template, Parameters=params, Capabilities=caps)
                log(f"updating stack {self.stack}")
            except cfn.exceptions.ClientError as e:
                if "No updates are to be performed" not in str(e):
                    raise
                log(f"stack {self.stack} is up to date")
                return self.outputs(cfn)
        else:
            cfn.create_stack(StackName=self.stack, **template, Parameters=params, Capabilities=caps)
            log(f"creating stack {self.stack}")
        status = self.wait_stack(cfn, {"CREATE_COMPLETE", "UPDATE_COMPLETE"})
        log(f"stack {self.stack}: {status}")
        return self.outputs(cfn)

    def stack_status(self, cfn):
        try:
            return cfn.describe_stacks(StackName=self.stack)["Stacks"][0]["StackStatus"]
        except cfn.exceptions.ClientError:
            return None

    def wait_stack(self, cfn, want):
        deadline = time.time() + 300
        while time.time() < deadline:
            status = self.stack_status(cfn)
            if status in want:
                return status
            if status and (status.endswith("FAILED") or status.endswith("ROLLBACK_COMPLETE")):
                events = cfn.describe_stack_events(StackName=self.stack)["StackEvents"]
                reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events
                           if "FAILED" in e.get("ResourceStatus", "")]
                die(f"stack {self.stack} is {status}:\n  " + "\n  ".join(reasons[:10]))
            time.sleep(0.5)
        die(f"stack {self.stack} did not settle within 300 s")

    def outputs(self, cfn):
        stack = cfn.describe_stacks(StackName=self.stack)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def write_endpoints(self, outputs):
        # The path form of the invoke URL works for every HTTP client (only curl resolves
        # *.localhost); the stage-less variant keeps a literal `$default` out of a sourced file.
        api_url = f"{self.endpoint}/_aws/execute-api/{outputs['ApiId']}"
        lines = {
            "API_URL": api_url,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "STACK_NAME": self.stack,
            "CACHE_NODES": ",".join(f"127.0.0.1:{p}" for p in self.redis_ports),
        }
        if self.fault_proxy:
            lines["FAULT_PROXY_URL"] = f"http://127.0.0.1:{self.fault_proxy}"
        body = "# Written by scripts/stack.py; `set -a; . .local/endpoints.env; set +a` to use it.\n"
        body += "".join(f"{k}={v}\n" for k, v in lines.items())
        body += "".join(f"OUTPUT_{re.sub(r'(?<!^)(?=[A-Z])', '_', k).upper()}={v}\n" for k, v in sorted(outputs.items()))
        (self.state / "endpoints.env").write_text(body)
        return api_url

    # ------------------------------------------------------------------ commands
    def up(self, build=True):
        self.logs.mkdir(parents=True, exist_ok=True)
        names = self.functions()
        if build:
            self.build(names)
        self.start_redis()
        fresh = self.start_emulator()
        self.start_fault_proxy()
        if fresh:
            log("deploying into a fresh emulator")
        outputs = self.deploy(self.package(names))
        api_url = self.write_endpoints(outputs)
        log(f"endpoints written to {self.state / 'endpoints.env'}")
        inst = "" if self.name == "dev" else f" --instance {self.name}"
        print(f"\n  API_URL={api_url}\n  try: curl \"{api_url}/v1/guid?count=3\"\n"
              f"  a token for writes: TOKEN=$(.venv/bin/python scripts/signin.py alice{inst})\n"
              f"  then: curl -H \"Authorization: Bearer $TOKEN\" -d '{{\"contents\":\"hello\"}}' \"{api_url}/v1/posts\"\n",
              flush=True)

    def down(self):
        self.stop_fault_proxy()
        self.stop_emulator()
        self.stop_redis()
        (self.state / "endpoints.env").unlink(missing_ok=True)

    def status(self):
        emu = "up" if self.emulator_healthy() else "down"
        redis = ", ".join(f"{p}:{'up' if self.redis_ping(p) else 'down'}" for p in self.redis_ports)
        print(f"instance {self.name}: emulator :{self.port} {emu}; redis {redis}")

    def follow_logs(self):
        """Follows the emulator's and Redis's log files, and the functions' CloudWatch log groups
        (every `*LogGroupName` output of the stack), in one stream."""
        import threading
        files = sorted(str(p) for p in self.logs.glob("*.log"))
        tail = subprocess.Popen(["tail", "-n", "5", "-F", *files], stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self.echo_files, args=(tail.stdout,), daemon=True).start()
        threading.Thread(target=self.follow_function_logs, daemon=True).start()
        return tail

    def echo_files(self, lines):
        """The log files' lines, less the function output the emulator echoes into its own log
        (JSON objects): those come from the log groups, readable, in follow_function_logs."""
        for line in lines:
            if not self.raw_logs and line.lstrip().startswith("{"):
                try:
                    if isinstance(json.loads(line), dict):
                        continue
                except ValueError:
                    pass
            print(line, end="", flush=True)

    def follow_function_logs(self):
        logs = self.client("logs")
        cfn = self.client("cloudformation")
        since = {}  # group -> the newest timestamp printed
        seen = {}  # group -> the events printed at that timestamp (several share a millisecond)
        start = int(time.time() * 1000) - 60_000
        while True:
            try:
                groups = {k.removesuffix("LogGroupName"): v for k, v in self.outputs(cfn).items()
                          if k.endswith("LogGroupName")}
                for fn, group in groups.items():
                    events = logs.filter_log_events(logGroupName=group, startTime=since.get(group, start)).get("events", [])
                    for e in events:
                        key = (e.get("eventId"), e["message"])
                        if e["timestamp"] < since.get(group, start) or key in seen.get(group, set()):
                            continue
                        if e["timestamp"] > since.get(group, start):
                            since[group], seen[group] = e["timestamp"], set()
                        seen.setdefault(group, set()).add(key)
                        line = e["message"].rstrip()
                        print(line if self.raw_logs else pretty(function_name(fn), line), flush=True)
            except Exception as e:  # the emulator restarting, the stack being replaced
                print(f"[stack] waiting for function logs: {e}", flush=True)
                time.sleep(5)
            time.sleep(1)

    def invoke(self, function, event_file):
        """Invokes the deployed function whose output `<Name>FunctionName` matches `function`."""
        outputs = self.outputs(self.client("cloudformation"))
        key = "".join(part.capitalize() for part in function.split("-")) + "FunctionName"
        if key not in outputs:
            die(f"the stack has no output {key}; functions: "
                + ", ".join(k.removesuffix("FunctionName") for k in outputs if k.endswith("FunctionName")))
        payload = Path(event_file).read_bytes()
        res = self.client("lambda").invoke(FunctionName=outputs[key], Payload=payload)
        body = res["Payload"].read().decode()
        if res.get("FunctionError"):
            die(f"{function} failed: {body}")
        print(json.dumps(json.loads(body), indent=2))

    def dev(self, build=True):
        self.up(build)
        print("[stack] following logs; Ctrl-C stops everything", flush=True)
        tail = self.follow_logs()

        def stop(*_):
            tail.terminate()
            self.down()
            sys.exit(0)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while True:
            time.sleep(2)
            if not self.emulator_healthy():
                log("the emulator stopped answering; shutting down")
                stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["up", "down", "dev", "status", "logs", "invoke"])
    p.add_argument("args", nargs="*", help="invoke: <function> <event.json>")
    p.add_argument("--instance", choices=sorted(INSTANCES), default="dev")
    p.add_argument("--no-build", action="store_true", help="deploy the binaries already built")
    p.add_argument("--json-logs", action="store_true", help="dev/logs: print function logs as the raw JSON lines")
    a = p.parse_args()
    inst = Instance(a.instance)
    inst.raw_logs = a.json_logs
    inst.state.mkdir(parents=True, exist_ok=True)
    inst.logs.mkdir(parents=True, exist_ok=True)
    if a.command == "up":
        inst.up(not a.no_build)
    elif a.command == "dev":
        inst.dev(not a.no_build)
    elif a.command == "down":
        inst.down()
    elif a.command == "invoke":
        if len(a.args) != 2:
            die("usage: stack.py invoke <function> <event.json>")
        inst.invoke(*a.args)
    elif a.command == "status":
        inst.status()
    else:
        inst.follow_logs().wait()


if __name__ == "__main__":
    main()
