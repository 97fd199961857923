#!/usr/bin/env python3
"""Tokens the API must refuse, and one it must accept, for the authorization tests (local
stack only: it signs with the emulator's own key for the user pool).

usage: test_tokens.py USER [--instance test]

Prints one JSON object:
  valid          the user's real access token
  sub            its subject
  expired        the same claims, expired an hour ago, signed with the pool's real key
  forged_fresh   the same claims, fresh, signed with the pool's real key: must be ACCEPTED,
                 which proves `expired` is refused for its expiry and nothing else
  bad_signature  the real token with its signature's bytes altered
  other_key      the same claims signed by a key that is not the pool's (same kid)
  wrong_audience a real access token of the same pool, issued to another app client
  wrong_issuer   the same claims with another pool's issuer, signed with the pool's real key
"""
import argparse
import base64
import json
import time

import botocore.session
from botocore.config import Config
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import signin as post_token  # scripts/signin.py, beside this file


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def sign(header: dict, claims: dict, key) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("user")
    p.add_argument("--instance", choices=sorted(post_token.STATES), default="test")
    a = p.parse_args()
    env = post_token.settings(a.instance)
    pool, client = env["USER_POOL_ID"], env["USER_POOL_CLIENT_ID"]
    idp = botocore.session.get_session().create_client(
        "cognito-idp", region_name=env.get("AWS_REGION", "us-east-1"), endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3}))
    valid = post_token.sign_in(idp, pool, client, a.user, post_token.LOCAL_PASSWORD)["AccessToken"]
    head_part, claims_part, sig_part = valid.split(".")
    header, claims = json.loads(unb64(head_part)), json.loads(unb64(claims_part))

    # The emulator keeps each pool's signing keys under its STATE_DIR (scripts/stack.py sets it).
    key_file = post_token.STATES[a.instance] / "emulator-state" / "cognito-pool-keys" / f"{pool}-access.pem"
    pool_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    now = int(time.time())
    expired = dict(claims, iat=now - 7200, auth_time=now - 7200, exp=now - 3600)
    fresh = dict(claims, iat=now - 5, auth_time=now - 5, exp=now + 3600, jti=f"forged-{now}")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sig = bytearray(unb64(sig_part))
    sig[len(sig) // 2] ^= 0xFF

    other = idp.create_user_pool_client(
        UserPoolId=pool, ClientName=f"other-app-{now}",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    wrong_audience = post_token.sign_in(idp, pool, other, a.user, post_token.LOCAL_PASSWORD)["AccessToken"]
    wrong_issuer = dict(fresh, iss=claims["iss"].rsplit("/", 1)[0] + "/us-east-1_NotThisPool")

    print(json.dumps({
        "valid": valid,
        "sub": claims["sub"],
        "expired": sign(header, expired, pool_key),
        "forged_fresh": sign(header, fresh, pool_key),
        "bad_signature": f"{head_part}.{claims_part}.{b64(bytes(sig))}",
        "other_key": sign(header, fresh, other_key),
        "wrong_audience": wrong_audience,
        "wrong_issuer": sign(header, wrong_issuer, pool_key),
    }))


if __name__ == "__main__":
    main()
