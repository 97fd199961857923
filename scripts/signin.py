#!/usr/bin/env python3
"""A bearer token for writing posts: signs a user up in the stack's Cognito user pool (once),
confirms them, signs in with USER_PASSWORD_AUTH and prints the access token.

usage: signin.py [USER ...] [--instance dev|test|bench] [--password P] [--json]

  USER        user name (default: $USER or "dev"); created on first use. Several users give
              one line each.
  --instance  which local stack (.local/endpoints.env, .local/test/ or .local/bench/endpoints.env).
  --json      print {"user", "sub", "access_token", "id_token", "expires_in"} instead.

    TOKEN=$(.venv/bin/python scripts/signin.py alice)
    curl -H "Authorization: Bearer $TOKEN" -d '{"contents":"hi"}' "$API_URL/v1/posts"

Against AWS set USER_POOL_ID, USER_POOL_CLIENT_ID (the stack's outputs) and AWS_REGION, with
credentials allowed to call cognito-idp:AdminConfirmSignUp, and pass --password or set
SIGNIN_PASSWORD (the pool's policy applies: 12+ characters, upper and lower case, digits).
Locally the password defaults to a fixed development one.
"""
import argparse
import base64
import json
import os
import sys
from pathlib import Path

import botocore.session
from botocore.config import Config

from instances import INSTANCES, read_endpoints  # scripts/instances.py: where each local stack lives

ROOT = Path(__file__).resolve().parent.parent
STATES = {name: cfg["state"] for name, cfg in INSTANCES.items()}
LOCAL_PASSWORD = "Local-dev-passw0rd"


def settings(instance):
    env = dict(os.environ)
    path = STATES[instance] / "endpoints.env"
    if not env.get("USER_POOL_ID") and not env.get("OUTPUT_USER_POOL_ID") and path.exists():
        for k, v in read_endpoints(path).items():
            env.setdefault(k, v)
    # The stack's outputs, as `make test` exports them, name the pool too.
    env["USER_POOL_ID"] = env.get("USER_POOL_ID") or env.get("OUTPUT_USER_POOL_ID", "")
    env["USER_POOL_CLIENT_ID"] = env.get("USER_POOL_CLIENT_ID") or env.get("OUTPUT_USER_POOL_CLIENT_ID", "")
    if not env.get("USER_POOL_ID") or not env.get("USER_POOL_CLIENT_ID"):
        sys.exit(f"no user pool: run `make up` (or set USER_POOL_ID and USER_POOL_CLIENT_ID); looked in {path}")
    return env


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def sign_in(idp, pool, client, user, password):
    """Signs `user` up (once) and in; the AuthenticationResult."""
    try:
        idp.sign_up(ClientId=client, Username=user, Password=password,
                    UserAttributes=[{"Name": "email", "Value": f"{user}@example.com"}])
        idp.admin_confirm_sign_up(UserPoolId=pool, Username=user)
    except idp.exceptions.UsernameExistsException:
        pass
    return idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": user, "PASSWORD": password})["AuthenticationResult"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("users", nargs="*", default=[os.environ.get("USER") or "dev"])
    p.add_argument("--instance", choices=sorted(STATES), default="dev")
    p.add_argument("--password")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    env = settings(a.instance)
    local = "127.0.0.1" in env.get("AWS_ENDPOINT_URL", "") or "localhost" in env.get("AWS_ENDPOINT_URL", "")
    password = a.password or os.environ.get("SIGNIN_PASSWORD") or (LOCAL_PASSWORD if local else None)
    if not password:
        sys.exit("--password (or SIGNIN_PASSWORD) is required outside the local stack")
    session = botocore.session.get_session()
    kwargs = {"region_name": env.get("AWS_REGION", "us-east-1"),
              "config": Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 3})}
    if local:
        kwargs.update(endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="test", aws_secret_access_key="test")
    idp = session.create_client("cognito-idp", **kwargs)
    pool, client = env["USER_POOL_ID"], env["USER_POOL_CLIENT_ID"]
    for user in a.users:
        auth = sign_in(idp, pool, client, user, password)
        if a.json:
            print(json.dumps({"user": user, "sub": claims(auth["AccessToken"])["sub"],
                              "access_token": auth["AccessToken"], "id_token": auth["IdToken"],
                              "expires_in": auth.get("ExpiresIn")}), flush=True)
        else:
            print(auth["AccessToken"], flush=True)


if __name__ == "__main__":
    main()
