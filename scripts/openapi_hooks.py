"""Schemathesis hooks: strategies for the formats the ipfs-kit OpenAPI documents name.

A CID, a list of CIDs, a requestid-or-time and a JSON map of strings have no JSON Schema type; the
documents name them as formats (src/daemon/http/schemas.ts) and this file tells schemathesis how to
make valid ones, so that "schema-valid" requests are valid requests. Loaded by scripts/openapi-fuzz.sh
(SCHEMATHESIS_HOOKS=openapi_hooks, PYTHONPATH=scripts).
"""
import base64
import hashlib
import json
import os

import schemathesis
from hypothesis import strategies as st

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n > 0:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def cid(data: bytes, version: int, codec: int) -> str:
    mh = bytes([0x12, 0x20]) + hashlib.sha256(data).digest()
    if version == 0:
        return base58(mh)
    raw = bytes([0x01, codec]) + mh
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


cids = st.builds(cid, st.binary(max_size=64), st.sampled_from([0, 1]), st.sampled_from([0x55, 0x70]))
times = st.datetimes(timezones=st.just(__import__("datetime").timezone.utc)).map(
    lambda t: t.isoformat().replace("+00:00", "Z")
)
plain = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)

schemathesis.openapi.format("cid", cids)
schemathesis.openapi.format("cid-list", st.lists(cids, min_size=1, max_size=4, unique=True).map(",".join))
schemathesis.openapi.format(
    "status-list",
    st.lists(st.sampled_from(["queued", "pinning", "pinned", "failed"]), min_size=1, max_size=4, unique=True).map(
        ",".join
    ),
)
schemathesis.openapi.format("cid-or-time", st.one_of(cids, times))
schemathesis.openapi.format("json-string-map", st.dictionaries(plain, plain, max_size=3).map(json.dumps))
# loopback addresses on ports nothing listens on: an origin is dialled, and must fail fast and locally
schemathesis.openapi.format(
    "multiaddr", st.integers(min_value=1, max_value=9).map(lambda p: f"/ip4/127.0.0.1/tcp/{p}")
)

# a service's API (a backend's api_url, endpoint): loopback ports nothing listens on, as a URL or a multiaddr
ports = st.integers(min_value=1, max_value=9)
schemathesis.openapi.format("http-url", ports.map(lambda p: f"http://127.0.0.1:{p}"))
schemathesis.openapi.format(
    "service-url",
    st.one_of(ports.map(lambda p: f"http://127.0.0.1:{p}"), ports.map(lambda p: f"/ip4/127.0.0.1/tcp/{p}")),
)

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12)
schemathesis.openapi.format(
    "ipfs-path", st.tuples(cids, st.lists(names, max_size=2)).map(lambda t: "/".join([t[0], *t[1]]))
)
entity = st.one_of(
    st.integers(0, 1 << 20).map(lambda a: f"{a}:*"),
    st.tuples(st.integers(0, 1 << 20), st.integers(0, 1 << 20)).map(lambda t: f"{min(t)}:{max(t)}"),
    st.integers(1, 1 << 20).map(lambda a: f"-{a}:*"),
)
schemathesis.openapi.format("entity-bytes", entity)
# VFS paths: absolute, a few plain names deep (the server refuses "..", encoded slashes and control bytes
# with 400, which the coverage phase checks with its own negative values)
plain_names = names.filter(lambda n: n not in (".", ".."))
vfs_paths = st.lists(plain_names, min_size=1, max_size=3).map(lambda p: "/" + "/".join(p))
schemathesis.openapi.format("vfs-path", st.one_of(st.just("/"), vfs_paths))
schemathesis.openapi.format("vfs-entry-path", vfs_paths)
schemathesis.openapi.format(
    "vfs-source",
    st.one_of(
        vfs_paths, st.tuples(cids, st.lists(plain_names, max_size=1)).map(lambda t: "/ipfs/" + "/".join([t[0], *t[1]]))
    ),
)

# Reconfiguring the daemon (PUT /config, POST /backends) is fuzzed only inside a sandbox directory
# (IPFS_KIT_FUZZ_SANDBOX, set by test/openapi-fuzz.test.ts; scripts/openapi-fuzz.sh leaves these
# operations out without it): a generated backend would otherwise write under any path of this machine,
# run any program as Kubo, or dial any address. Before each call, every such value becomes one inside the
# sandbox or a loopback port nothing listens on. The call is then checked as what it now is (schemathesis
# revalidates a case a hook edits).
SANDBOX = os.environ.get("IPFS_KIT_FUZZ_SANDBOX")
NOWHERE = "http://127.0.0.1:9"
URL_KEYS = ("api_url", "proxy_url", "endpoint", "daemon_url")
PATH_KEYS = ("path", "bin")


def confine_backend(entry):
    if not isinstance(entry, dict):
        return
    for key, value in list(entry.items()):
        if not isinstance(value, str) or value == "":
            continue
        if key in URL_KEYS:
            entry[key] = NOWHERE
        elif key in PATH_KEYS:
            digest = hashlib.sha256(value.encode()).hexdigest()[:12]
            entry[key] = os.path.join(SANDBOX, f"{key}-{digest}")
    # a managed Kubo would start the real `ipfs` found on PATH, an S3 backend dial AWS: neither here
    if entry.get("type") == "kubo" and "api_url" not in entry:
        entry["bin"] = os.path.join(SANDBOX, "no-such-ipfs")
    if entry.get("type") == "s3" and "endpoint" not in entry:
        entry["endpoint"] = NOWHERE


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    label = case.operation.label
    if label not in ("PUT /config", "POST /backends") or not isinstance(case.body, dict):
        return
    if SANDBOX is None:
        raise RuntimeError(f"{label} is fuzzed only with IPFS_KIT_FUZZ_SANDBOX set")
    if label == "POST /backends":
        confine_backend(case.body)
        return
    if isinstance(case.body.get("backends"), list):
        for entry in case.body["backends"]:
            confine_backend(entry)
    server = case.body.get("server")
    if isinstance(server, dict) and isinstance(server.get("daemon_url"), str):
        server["daemon_url"] = NOWHERE
