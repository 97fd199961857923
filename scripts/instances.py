"""Where each local stack lives (ports, state directory, stack name, parameters), and its
`endpoints.env` read back: the one list and the one parser every script uses.

`dev` (emulator :4566, Redis :6380-6382, state in .local/) is for people, `test` (:4599,
:6390-6392, .local/test/) for `make test`, `bench` (:4588, :6385-6387, .local/bench/) for
`make bench`; they run side by side.
"""
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


def read_endpoints(path):
    """The `KEY=value` lines of an endpoints.env (as stack.py writes it) as a dict; comments and
    blank lines skipped, surrounding quotes dropped. A missing file reads as empty."""
    out = {}
    try:
        text = Path(path).read_text()
    except OSError:
        return out
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"')
    return out


def endpoints_file(instance):
    return INSTANCES[instance]["state"] / "endpoints.env"
