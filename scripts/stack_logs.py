"""Following a local stack's logs: the emulator's and Redis's files, and the functions' log
groups, shown readable (or as written, with --json-logs). A mixin of `stack.Instance`."""
import json
import re
import subprocess
import time


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


class Logs:
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
