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
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from instances import BUCKET, INSTANCES, REGION, ROOT
from stack_logs import Logs
from stack_servers import Servers, die, log


class Instance(Servers, Logs):
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
