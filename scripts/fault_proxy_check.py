#!/usr/bin/env python3
"""End-to-end check of scripts/fault_proxy.py against a running emulator.

Starts the proxy as a subprocess in front of --upstream (a MiniStack you started, never the
shared one), drives it with boto3, and prints one PASS/FAIL line per check; exits 1 on failure.
Also starts an in-process echo server (chunked answers) to check byte-for-byte forwarding.

  /work/main/.venv/bin/python scripts/fault_proxy_check.py --upstream http://127.0.0.1:4633
"""
import argparse, hashlib, http.client, json, os, signal, subprocess, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

PROXY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_proxy.py")
failures = []


def check(name, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + name + (f"  [{detail}]" if detail else ""), flush=True)
    if not ok:
        failures.append(name)


def start_proxy(upstream, *extra):
    proc = subprocess.Popen([sys.executable, PROXY, "--listen", "127.0.0.1:0", "--upstream", upstream,
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening 127.0.0.1:"):
        proc.kill()
        sys.exit(f"proxy did not start: {line!r} {proc.stderr.read()}")
    return proc, "http://" + line.split()[1]


def call(url, method, path, body=None, headers=None):
    u = url.removeprefix("http://")
    c = http.client.HTTPConnection(u, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def control(url, path, obj=None):
    status, data = call(url, "POST" if obj is not None else "GET", path,
                        json.dumps(obj).encode() if obj is not None else None)
    assert status == 200, (status, data)
    return json.loads(data)


def client(url, retries):
    cfg = Config(retries={"mode": "standard", "total_max_attempts": retries}, connect_timeout=5, read_timeout=30)
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", config=cfg,
                        aws_access_key_id="test", aws_secret_access_key="test")


class Echo(BaseHTTPRequestHandler):
    """Answers with the request it saw, in chunked transfer coding."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = json.dumps({"headers": self.headers.items(), "sha": hashlib.sha256(body).hexdigest(),
                          "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for part in (out[:10], out[10:]):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")


def check_echo():
    echo = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=echo.serve_forever, daemon=True).start()
    proc, url = start_proxy(f"http://127.0.0.1:{echo.server_address[1]}", "--throttle", "0")
    try:
        body = b'{"TableName": "t", "Key": {"k": {"S": "\xc3\xa9"}}}'
        hdrs = [("Host", "dynamodb.us-east-1.amazonaws.com"), ("X-Amz-Target", "DynamoDB_20120810.GetItem"),
                ("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
                 "SignedHeaders=host;x-amz-date, Signature=abc"), ("X-Amz-Date", "20260101T000000Z"),
                ("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))]
        c = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
        seen = []
        for _ in range(2):  # two requests over one client connection (keep-alive)
            c.putrequest("POST", "/some/path?x=1", skip_host=True, skip_accept_encoding=True)
            for k, v in hdrs:
                c.putheader(k, v)
            c.endheaders(body)
            r = c.getresponse()
            seen.append(json.loads(r.read()))
        c.close()
        check("headers (Host included) reach upstream unchanged, in order",
              all([tuple(h) for h in s["headers"]] == hdrs for s in seen), str(seen[0]["headers"][:1]))
        check("body and path reach upstream byte for byte, chunked answers decoded, keep-alive",
              all(s["sha"] == hashlib.sha256(body).hexdigest() and s["path"] == "/some/path?x=1" for s in seen))
    finally:
        proc.terminate()
        proc.wait(5)
        echo.shutdown()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="a private emulator, e.g. http://127.0.0.1:4633")
    upstream = ap.parse_args().upstream
    check_echo()
    proc, url = start_proxy(upstream, "--seed", "7")
    table = "fault-proxy-check-" + uuid.uuid4().hex[:8]
    direct, fast, none = client(upstream, 1), client(url, 10), client(url, 1)
    try:
        st, data = call(url, "GET", "/_ministack/health")
        check("non-DynamoDB request passes through", st == 200 and b"services" in data)
        fast.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        fast.put_item(TableName=table, Item={"pk": {"S": "plain"}})
        got = direct.get_item(TableName=table, Key={"pk": {"S": "plain"}}).get("Item")
        check("no faults: put through proxy lands in emulator", got == {"pk": {"S": "plain"}})

        control(url, "/_fault/reset", {})
        for _ in range(3):
            none.get_item(TableName=table, Key={"pk": {"S": "plain"}})
        s = control(url, "/_fault/stats")
        check("stats count forwarded requests", s["forwarded"] == 3 and s["by_operation"] == {"GetItem": 3}
              and sum(s["faults"].values()) == 0, json.dumps(s))

        control(url, "/_fault/config", {"throttle": 1.0})
        try:
            none.put_item(TableName=table, Item={"pk": {"S": "t0"}})
            check("throttle surfaces with retries off", False, "no error")
        except ClientError as e:
            md = e.response["ResponseMetadata"]
            check("throttle surfaces as ProvisionedThroughputExceededException with retries off",
                  e.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
                  and md["HTTPStatusCode"] == 400 and md["RetryAttempts"] == 0
                  and md["HTTPHeaders"]["x-amzn-errortype"] == "ProvisionedThroughputExceededException",
                  e.response["Error"]["Code"])
        s = control(url, "/_fault/stats")
        check("stats count the throttle by kind and operation",
              s["faults"]["throttle"] == 1 and s["faults_by_operation"] == {"PutItem": {"throttle": 1}})

        control(url, "/_fault/config", {"throttle": 0.5, "seed": 7})
        retried = 0
        for i in range(20):
            r = fast.put_item(TableName=table, Item={"pk": {"S": f"t{i}"}})
            retried += r["ResponseMetadata"]["RetryAttempts"]
        s = control(url, "/_fault/stats")
        stored = sum(1 for i in range(20) if "Item" in direct.get_item(TableName=table, Key={"pk": {"S": f"t{i}"}}))
        check("throttles at 50% are retried by boto3 and all 20 puts succeed",
              stored == 20 and retried == s["faults"]["throttle"] - 1 and retried > 0,
              f"retries={retried} throttles={s['faults']['throttle'] - 1}")

        control(url, "/_fault/config", {"throttle": 0, "error500": 1.0})
        codes = []
        for c in (none, client(url, 3)):
            try:
                c.get_item(TableName=table, Key={"pk": {"S": "plain"}})
            except ClientError as e:
                codes.append((e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"],
                              e.response["ResponseMetadata"]["RetryAttempts"]))
        check("500 surfaces as InternalServerError (boto3 retries it as transient, then gives up)",
              codes == [("InternalServerError", 500, 0), ("InternalServerError", 500, 2)], str(codes))

        control(url, "/_fault/config", {"error500": 0})
        s0 = control(url, "/_fault/stats")
        for _ in range(5):
            none.get_item(TableName=table, Key={"pk": {"S": "plain"}})
        s1 = control(url, "/_fault/stats")
        check("turning faults off at runtime takes effect", s1["faults"] == s0["faults"])

        control(url, "/_fault/config", {"slow": 1.0, "slow_ms": 700})
        t = time.monotonic()
        item = none.get_item(TableName=table, Key={"pk": {"S": "plain"}}).get("Item")
        slow = time.monotonic() - t
        control(url, "/_fault/config", {"slow": 0})
        t = time.monotonic()
        none.get_item(TableName=table, Key={"pk": {"S": "plain"}})
        quick = time.monotonic() - t
        check("slow answers are slow and correct", slow >= 0.7 and quick < 0.5 and item == {"pk": {"S": "plain"}},
              f"slow={slow:.2f}s normal={quick:.2f}s")

        control(url, "/_fault/config", {"throttle": 1.0, "only_target": ["PutItem"]})
        ok_get = "Item" in none.get_item(TableName=table, Key={"pk": {"S": "plain"}})
        try:
            none.put_item(TableName=table, Item={"pk": {"S": "x"}})
            put = "ok"
        except ClientError as e:
            put = e.response["Error"]["Code"]
        check("only_target limits faults to the named operations", ok_get and put.startswith("Provisioned"), put)

        control(url, "/_fault/config", {"throttle": 0.5, "only_target": [], "seed": 42})
        patterns = []
        for _ in range(2):
            control(url, "/_fault/config", {"seed": 42})
            pat = ""
            for _ in range(12):
                try:
                    none.get_item(TableName=table, Key={"pk": {"S": "plain"}})
                    pat += "."
                except ClientError:
                    pat += "T"
            patterns.append(pat)
        check("the same seed gives the same faults", patterns[0] == patterns[1] and "T" in patterns[0]
              and "." in patterns[0], patterns[0])

        control(url, "/_fault/config", {"throttle": 0, "unprocessed": 1.0})
        keys = [f"b{i}" for i in range(10)]
        reqs = [{"PutRequest": {"Item": {"pk": {"S": k}, "v": {"N": str(i)}}}} for i, k in enumerate(keys)]
        r = none.batch_write_item(RequestItems={table: reqs})
        unp = r.get("UnprocessedItems", {}).get(table, [])
        unp_keys = {u["PutRequest"]["Item"]["pk"]["S"] for u in unp}
        stored = {k for k in keys if "Item" in direct.get_item(TableName=table, Key={"pk": {"S": k}})}
        check("unprocessed items come back in UnprocessedItems and were not stored",
              0 < len(unp) < 10 and stored == set(keys) - unp_keys and unp == [q for q in reqs if
                                                                            q["PutRequest"]["Item"]["pk"]["S"] in unp_keys],
              f"{len(unp)} unprocessed, {len(stored)} stored")
        s = control(url, "/_fault/stats")
        check("stats count unprocessed items", s["unprocessed_items"] == len(unp))
        control(url, "/_fault/config", {"unprocessed": 0})
        r = none.batch_write_item(RequestItems=r["UnprocessedItems"])
        stored = {k for k in keys if "Item" in direct.get_item(TableName=table, Key={"pk": {"S": k}})}
        check("resending UnprocessedItems stores the rest", stored == set(keys) and not r["UnprocessedItems"])

        control(url, "/_fault/config", {"throttle": 0.3, "slow": 0.05, "slow_ms": 200})
        errors = []

        def load(n):
            c = client(url, 10)
            for i in range(25):
                try:
                    c.put_item(TableName=table, Item={"pk": {"S": f"c{n}-{i}"}})
                except Exception as e:  # noqa: BLE001 - any failure fails the check
                    errors.append(repr(e))
        threads = [threading.Thread(target=load, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        control(url, "/_fault/config", {"throttle": 0, "slow": 0})
        n = direct.scan(TableName=table, Select="COUNT", ScanFilter={"pk": {"AttributeValueList": [{"S": "c"}],
                                                                             "ComparisonOperator": "BEGINS_WITH"}})
        check("8 concurrent clients x 25 puts under 30% throttles all succeed", not errors and n["Count"] == 200,
              f"errors={errors[:1]} stored={n['Count']}")

        control(url, "/_fault/config", {"lost_answer": 1.0, "only_target": ["PutItem"]})
        try:
            none.put_item(TableName=table, Item={"pk": {"S": "lost-answer"}})
            lost = "ok"
        except ClientError as e:
            lost = e.response["Error"]["Code"]
        got = direct.get_item(TableName=table, Key={"pk": {"S": "lost-answer"}}).get("Item")
        check("lost_answer: the upstream stores it, the client hears a 500", lost == "InternalServerError"
              and got == {"pk": {"S": "lost-answer"}}, f"client saw {lost}, stored={got}")
        control(url, "/_fault/config", {"lost_answer": 0.0, "lost_timeout": 1.0, "hang_ms": 1500})
        impatient = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1",
                                 config=Config(retries={"total_max_attempts": 1}, read_timeout=0.5),
                                 aws_access_key_id="test", aws_secret_access_key="test")
        t = time.monotonic()
        try:
            impatient.put_item(TableName=table, Item={"pk": {"S": "lost-timeout"}})
            hung = "ok"
        except Exception as e:  # noqa: BLE001 - botocore's ReadTimeoutError is what we expect
            hung = type(e).__name__
        waited = time.monotonic() - t
        got = direct.get_item(TableName=table, Key={"pk": {"S": "lost-timeout"}}).get("Item")
        check("lost_timeout: the upstream stores it, the client times out", "Timeout" in hung
              and got == {"pk": {"S": "lost-timeout"}} and waited < 1.4, f"client saw {hung} after {waited:.2f}s")
        sqs_direct = boto3.client("sqs", endpoint_url=upstream, region_name="us-east-1",
                                  aws_access_key_id="test", aws_secret_access_key="test")
        sqs_proxy = boto3.client("sqs", endpoint_url=url, region_name="us-east-1",
                                 config=Config(retries={"total_max_attempts": 1}),
                                 aws_access_key_id="test", aws_secret_access_key="test")
        queue = sqs_direct.create_queue(QueueName=table)["QueueUrl"]
        control(url, "/_fault/config", {"lost_timeout": 0.0, "lost_answer": 1.0, "only_target": ["SendMessage"]})
        try:
            sqs_proxy.send_message(QueueUrl=queue, MessageBody="accepted, answer lost")
            sent = "ok"
        except ClientError as e:
            sent = e.response["Error"]["Code"]
        got = sqs_direct.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
        sqs_direct.delete_queue(QueueUrl=queue)
        check("lost_answer on SQS SendMessage: the queue has the message, the sender hears a 500",
              sent == "InternalServerError" and [m["Body"] for m in got] == ["accepted, answer lost"],
              f"sender saw {sent}, queue held {len(got)}")
        s = control(url, "/_fault/stats")
        check("stats count lost answers by operation", s["faults_by_operation"].get("PutItem", {}).get("lost_answer") == 1
              and s["faults_by_operation"].get("SendMessage", {}).get("lost_answer") == 1
              and s["faults"]["lost_timeout"] == 1, json.dumps(s["faults_by_operation"]))
        control(url, "/_fault/config", {"lost_answer": 0.0, "only_target": []})

        st, data = call(url, "POST", "/_fault/config", b'{"throttle": 0.8, "error500": 0.5}')
        check("config refuses rates summing over 1", st == 400)
        control(url, "/_fault/reset", {})
        s = control(url, "/_fault/stats")
        check("reset zeroes stats", s["requests"] == 0 and sum(s["faults"].values()) == 0)
    finally:
        try:
            direct.delete_table(TableName=table)
        except Exception:
            pass
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = None
        err = proc.stderr.read()
    check("proxy exits cleanly on SIGTERM", rc == 0, f"rc={rc}")
    check("proxy logged one stderr line per fault", err.count("fault throttle PutItem") >= 2
          and "fault unprocessed BatchWriteItem" in err and "fault slow GetItem" in err)
    print(f"{'FAIL' if failures else 'PASS'}: {len(failures)} check(s) failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
