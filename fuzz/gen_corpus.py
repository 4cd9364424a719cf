#!/usr/bin/env python3
"""Writes the seed corpus in fuzz/corpus/<target>/seed-*.

Seeds come from the transcripts in tests/vectors/ (RFC 7677 section 3;
xdg-go/scram sha-512) plus edge cases: extensions, authzid, escaped names,
-PLUS gs2 headers, mandatory extensions, server errors. Run from anywhere:

    python3 fuzz/gen_corpus.py

The binary layouts of server_exchange and client_exchange are described at the
top of their targets; the constants below must match those targets.
"""

import base64
import hashlib
import hmac
import json
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent
VECTORS = ROOT.parent / "tests" / "vectors"
CORPUS = ROOT / "corpus"

USERNAME, PASSWORD = "user", "pencil"
SALT_B64 = "W22ZaJ0SNY7soEsUEjb6gQ=="
CBIND_DATA = b"\xcb" * 32
# server_exchange fixtures: hash -> (iterations, server nonce part)
SERVER = {"sha256": (4096, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"), "sha512": (10000, "4FHzBxBhPzykjGStpoxdfs4Nyp1mtC9B")}
CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"  # client_exchange's fixed nonce
METHODS = ["SCRAM-SHA-256", "SCRAM-SHA-512", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-512-PLUS"]
LOOKUP = {"notfound": 0, "found": 1, "otherhash": 2, "ignore": 3}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def scram_keys(hash_name, password, salt, iterations):
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored_key = hashlib.new(hash_name, client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hash_name).digest()
    return client_key, stored_key, server_key


def proof_and_signature(hash_name, password, salt, iterations, auth_message: bytes):
    client_key, stored_key, server_key = scram_keys(hash_name, password, salt, iterations)
    signature = hmac.new(stored_key, auth_message, hash_name).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_signature = hmac.new(server_key, auth_message, hash_name).digest()
    return proof, server_signature


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())


def load_transcripts():
    return [json.loads(p.read_text()) for p in sorted(VECTORS.glob("*.json"))]


def parser_seeds(transcripts):
    for t in transcripts:
        for field, target in [
            ("client_first", "parse_client_first"),
            ("server_first", "parse_server_first"),
            ("client_final", "parse_client_final"),
            ("server_final", "parse_server_final"),
        ]:
            if t.get(field):
                write(target, t["name"], t[field])
    proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    cases = {
        "parse_client_first": {
            "extensions": "n,,n=user,r=abc,x=1,y=a=b",
            "authzid": "n,a=admin,n=user,r=abc",
            "escaped": "n,a=ad=2Cmin=3D,n=us=3Der=2C,r=abc",
            "plus-exporter": "p=tls-exporter,,n=user,r=abc",
            "plus-endpoint-authzid": "p=tls-server-end-point,a=user,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            "y-flag": "y,,n=user,r=abc",
            "mandatory-ext": "n,,m=ext,n=user,r=abc",
            "unicode-user": "n,,n=\u00dcn\u00efc\u00f6d\u00e9\u2168,r=abc",
            "bad-escape": "n,,n=us=2cer,r=abc",
        },
        "parse_server_first": {
            "extension": "r=abcdef,s=QSXCR+Q6sek8bf92,i=4096,x=ext",
            "max-iterations": "r=a,s=QQ==,i=4294967295",
            "mandatory-ext": "m=x,r=a,s=QQ==,i=1",
            "leading-zero": "r=a,s=QQ==,i=01",
        },
        "parse_client_final": {
            "extensions": f"c=biws,r=abc,x=1,q=w=x,p={proof}",
            "plus": f"c={b64(b'p=tls-exporter,,' + CBIND_DATA)},r=abcdef,p={proof}",
            "authzid": f"c={b64(b'n,a=admin,')},r=abcdef,p={proof}",
            "mandatory-ext": f"m=1,c=biws,r=abc,p={proof}",
        },
        "parse_server_final": {
            "invalid-proof": "e=invalid-proof",
            "other-error": "e=other-error,x=1",
            "custom-error": "e=something-else",
            "verifier-ext": "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=1",
        },
    }
    for target, seeds in cases.items():
        for name, data in seeds.items():
            write(target, name, data)


def server_input(flags, variant, reason, client_first: bytes, client_final: bytes) -> bytes:
    return bytes([flags, variant, reason]) + struct.pack(">H", len(client_first)) + client_first + client_final


def server_flags(method, lookup="found", auto_proof=False, binding=False, authzid=False, reauth=False):
    return (
        METHODS.index(method)
        | LOOKUP[lookup] << 2
        | (0x10 if auto_proof else 0)
        | (0x20 if binding else 0)
        | (0x40 if authzid else 0)
        | (0x80 if reauth else 0)
    )


def server_seeds(transcripts):
    for t in transcripts:
        if not (t.get("client_first") and t.get("client_final")):
            continue
        cf, cfin = t["client_first"].encode(), t["client_final"].encode()
        m = t["mechanism"]
        lookup = "found" if t.get("password") is not None else "notfound"
        flags = server_flags(m, lookup, binding=bool(t.get("channel_binding")), authzid=bool(t.get("authzid")))
        write("server_exchange", t["name"], server_input(flags, 0, 0x18, cf, cfin))
        write("server_exchange", t["name"] + "-reauth", server_input(flags | 0x80, 0, 0x18, cf, cfin))
        write("server_exchange", t["name"] + "-unknown", server_input(flags & ~0x0C, 0, 0x18, cf, cfin))
        write("server_exchange", t["name"] + "-late", server_input(flags, 0x04, 0x18, cf, cfin))
        write("server_exchange", t["name"] + "-other-method", server_input(flags, 0x01, 0x18, cf, cfin))
        write("server_exchange", t["name"] + "-reason-00", server_input(flags, 0, 0x00, cf, cfin))

    # Auto-proof seeds: client-final-without-proof only; the target appends the proof.
    def auto(name, method, gs2, bare_user="user", nonce="cnonce", ext="", final_ext="", **kw):
        hash_name = "sha512" if "512" in method else "sha256"
        full_nonce = nonce + SERVER[hash_name][1]
        cbind = gs2.encode() + (CBIND_DATA if method.endswith("PLUS") else b"")
        cf = f"{gs2}n={bare_user},r={nonce}{ext}".encode()
        without = f"c={b64(cbind)},r={full_nonce}{final_ext}".encode()
        flags = server_flags(method, auto_proof=True, **kw)
        write("server_exchange", "auto-" + name, server_input(flags, 0, 0x18, cf, without))
        # variant bit 7: the target writes the canonical client-final itself.
        write("server_exchange", "canonical-" + name, server_input(flags, 0x80, 0x18, cf, b""))

    auto("sha256", "SCRAM-SHA-256", "n,,")
    auto("sha512", "SCRAM-SHA-512", "n,,")
    auto("extensions", "SCRAM-SHA-256", "n,,", ext=",x=1,y=a=b", final_ext=",z=9")
    auto("authzid-self", "SCRAM-SHA-256", "n,a=user,")
    auto("authzid-admin", "SCRAM-SHA-512", "n,a=ad=2Cmin,", authzid=True)
    auto("escaped-user", "SCRAM-SHA-256", "n,,", bare_user="us=3Der=2C", lookup="found")
    auto("plus-256", "SCRAM-SHA-256-PLUS", "p=tls-exporter,,", binding=True)
    auto("plus-512", "SCRAM-SHA-512-PLUS", "p=tls-exporter,a=user,", binding=True)
    auto("y-flag", "SCRAM-SHA-256", "y,,")
    auto("y-flag-downgrade", "SCRAM-SHA-256", "y,,", binding=True)
    auto("plus-endpoint", "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", binding=True)
    auto("unknown", "SCRAM-SHA-256", "n,,", lookup="notfound")
    auto("ignore", "SCRAM-SHA-512", "n,,", lookup="ignore")
    auto("other-hash", "SCRAM-SHA-512", "n,,", lookup="otherhash")
    auto("reauth", "SCRAM-SHA-256", "n,,", reauth=True)


def client_input(flags, server_first: bytes, server_final: bytes) -> bytes:
    return bytes([flags]) + struct.pack(">H", len(server_first)) + server_first + server_final


def client_seeds():
    salt = base64.b64decode(SALT_B64)
    variants = [
        ("sha256", 0, "n,,", b""),
        ("sha512", 1, "n,,", b""),
        ("plus-256", 2, "p=tls-exporter,,", CBIND_DATA),
        ("plus-512-authzid", 1 | 2 | 8, "p=tls-exporter,a=admin,", CBIND_DATA),
        ("y-flag", 4, "y,,", b""),
        ("authzid", 8, "n,a=admin,", b""),
    ]
    for name, flags, gs2, cbind in variants:
        hash_name = "sha512" if flags & 1 else "sha256"
        for iterations, ext in [(16, ""), (1, ",x=ext")]:
            nonce = CLIENT_NONCE + "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
            server_first = f"r={nonce},s={SALT_B64},i={iterations}{ext}"
            without = f"c={b64(gs2.encode() + cbind)},r={nonce}"
            auth = f"n={USERNAME},r={CLIENT_NONCE},{server_first},{without}".encode()
            _, signature = proof_and_signature(hash_name, PASSWORD, salt, iterations, auth)
            tag = f"{name}-i{iterations}"
            write("client_exchange", tag, client_input(flags, server_first.encode(), f"v={b64(signature)}".encode()))
            write("client_exchange", tag + "-auto", client_input(flags | 0x10, server_first.encode(), b""))
            write("client_exchange", tag + "-auto-ext", client_input(flags | 0x10, server_first.encode(), b",x=1"))
            write("client_exchange", tag + "-error", client_input(flags, server_first.encode(), b"e=invalid-proof"))
    # Rejected before PBKDF2: the vectors' own counts are outside the window.
    for t in load_transcripts():
        if not (t.get("server_first") and t.get("server_final")):
            continue
        flags = 1 if "512" in t["mechanism"] else 0
        write("client_exchange", t["name"], client_input(flags, t["server_first"].encode(), t["server_final"].encode()))


def saslprep_seeds():
    cases = {
        "ascii": "user",
        "password": "pencil",
        "soft-hyphen": "I\u00adX",
        "roman-nine": "\u2168",
        "ordinal": "\u00aa",
        "bell": "\u0007",
        "bidi-bad": "\u0627\u0031",
        "bidi-ok": "\u0627\u0031\u0628",
        "bidi-mixed": "\u0627a\u0628",
        "zero-width-space": "a\u200bb",
        "nbsp": "a\u00a0b",
        "unassigned": "\u0221",
        "fullwidth": "\uff46\uff55\uff4c\uff4c",
        "titlecase-digraph": "\u01c5",
        "private-use": "\ue000",
        "combining": "e\u0301",
        "tag": "\U000e0001",
        "mixed": "p\u00e4ssw\u00f6rd \u2163 \ufb01",
    }
    for name, data in cases.items():
        write("saslprep", name, data)


def credential_seeds():
    """stored_credentials: [0] flags (bit 0 EMQX hex, bit 1 SHA-512), then the text."""
    salt = base64.b64decode(SALT_B64)

    def postgres(name, text):
        write("stored_credentials", "pg-" + name, b"\x00" + text.encode())

    def emqx(name, flags, iterations, salt_hex, stored_hex, server_hex):
        text = f"{salt_hex}\n{stored_hex}\n{server_hex}".encode()
        write("stored_credentials", "emqx-" + name, bytes([flags | 1]) + struct.pack(">I", iterations) + text)

    for hash_name, method, flags in [("sha256", "SCRAM-SHA-256", 0), ("sha512", "SCRAM-SHA-512", 2)]:
        _, stored, server = scram_keys(hash_name, PASSWORD, salt, 4096)
        postgres(hash_name, f"{method}$4096:{SALT_B64}${b64(stored)}:{b64(server)}")
        emqx(hash_name, flags, 4096, salt.hex(), stored.hex(), server.hex())
        emqx(hash_name + "-upper-spaces", flags, 4096, salt.hex().upper(), " " + stored.hex().upper(), server.hex() + " ")
        emqx(hash_name + "-short-key", flags, 4096, salt.hex(), stored.hex()[:-2], server.hex())
        emqx(hash_name + "-zero-iterations", flags, 0, salt.hex(), stored.hex(), server.hex())
        emqx(hash_name + "-max-iterations", flags, 0xFFFFFFFF, salt.hex(), stored.hex(), server.hex())
    _, stored, server = scram_keys("sha256", PASSWORD, salt, 4096)
    postgres("trailing-newline", f"SCRAM-SHA-256$4096:{SALT_B64}${b64(stored)}:{b64(server)}\n")
    postgres("leading-zero", f"SCRAM-SHA-256$04096:{SALT_B64}${b64(stored)}:{b64(server)}")
    postgres("zero-iterations", f"SCRAM-SHA-256$0:{SALT_B64}${b64(stored)}:{b64(server)}")
    postgres("empty-salt", f"SCRAM-SHA-256$4096:${b64(stored)}:{b64(server)}")
    postgres("unpadded", f"SCRAM-SHA-256$4096:{SALT_B64.rstrip('=')}${b64(stored)}:{b64(server)}")
    postgres("md5", "md5a3556571e93b0d20722ba62be61e8c2d")
    postgres("four-parts", f"SCRAM-SHA-256$4096:{SALT_B64}${b64(stored)}:{b64(server)}$x")
    postgres("sha1", f"SCRAM-SHA-1$4096:{SALT_B64}${b64(stored)}:{b64(server)}")
    emqx("odd-hex", 0, 4096, "abc", stored.hex(), server.hex())
    emqx("two-fields", 0, 4096, salt.hex(), stored.hex(), "")


# service_params: [0] content type (see the target), [1] query length, query, body.
# service_requests: [0] path | method << 4 | 0x40 (query present), [1] content type | hook << 3,
# [2] query length, query, body. Indexes match PATHS, TYPES and HOOKS in the targets.
SERVICE_PATHS = ["/emqx5/scram", "/emqx4/auth", "/emqx4/superuser", "/emqx4/acl", "/amqtt/user",
                 "/amqtt/acl", "/amqtt/superuser", "/vernemq", "/vernemq/", "/nope"]
SERVICE_METHODS = ["GET", "POST", "PUT", "DELETE"]
SERVICE_TYPES = [None, "json", "form", "text", "json-charset", "multipart", "ld+json", "octet"]
SERVICE_HOOKS = [None, "auth_on_register", "auth_on_register_m5", "auth_on_subscribe",
                 "auth_on_subscribe_m5", "auth_on_publish", "auth_on_publish_m5", "on_auth_m5",
                 "on_deliver", ""]


def service_seeds():
    def params(name, ctype, query, body):
        q = query.encode()
        write("service_params", name, bytes([ctype, len(q)]) + q + body.encode())

    params("form", 3, "", "username=alice&password=pencil&clientid=c1")
    params("json", 1, "", '{"username":"alice","password":"pencil","acc":2,"retain":false,"x":null}')
    params("json-sniffed", 0, "", '{"username":"alice"}')
    params("query-and-form", 3, "username=bob&ipaddr=127.0.0.1", "username=alice&password=p%20w")
    params("query-only", 0, "username=alice&access=1&topic=a%2Fb", "")
    params("query-ignored", 8 | 3, "username=bob", "username=alice")
    params("json-nested", 1, "", '{"username":{"a":1}}')
    params("json-array", 2, "", '["alice"]')
    params("plus-json", 5, "a=1", '{"username":"alice"}')

    def request(name, path, method, ctype, hook, query, body):
        route = SERVICE_PATHS.index(path) | SERVICE_METHODS.index(method) << 4
        if query is not None:
            route |= 0x40
        kind = SERVICE_TYPES.index(ctype) | SERVICE_HOOKS.index(hook) << 3
        q = (query or "").encode()
        body = body if isinstance(body, bytes) else json.dumps(body).encode() if not isinstance(body, str) else body.encode()
        write("service_requests", name, bytes([route, kind, len(q)]) + q + body)

    client_first = b64(b"n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL")
    client_final = b64(b"c=biws,r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,p=MC2T8BvbmWRckDw8oWl5IVghwCwB")
    request("emqx5-get", "/emqx5/scram", "GET", None, None, "username=alice", "")
    request("emqx5-post-json", "/emqx5/scram", "POST", "json", None, None, {"username": "mallory"})
    request("emqx4-auth-form", "/emqx4/auth", "POST", "form", None, None,
            "clientid=c1&username=alice&password=pencil&ipaddr=127.0.0.1")
    request("emqx4-auth-get", "/emqx4/auth", "GET", None, None, "username=alice&password=wrong", "")
    request("emqx4-superuser", "/emqx4/superuser", "PUT", "json", None, None, {"username": "alice"})
    request("emqx4-acl", "/emqx4/acl", "POST", "form", None, None,
            "access=2&username=alice&clientid=c1&ipaddr=127.0.0.1&topic=alice/x")
    request("amqtt-user", "/amqtt/user", "POST", "json", None, None,
            {"username": "alice", "password": "pencil", "client_id": "c1"})
    request("amqtt-acl", "/amqtt/acl", "GET", "form", None, "username=alice&client_id=c1&topic=sensors%2Falice%2Ft&acc=1", "")
    request("amqtt-superuser", "/amqtt/superuser", "PUT", "form", None, None, "username=alice&password=pencil&client_id=c1")
    request("vmq-register", "/vernemq", "POST", "json", "auth_on_register", None,
            {"peer_addr": "127.0.0.1", "peer_port": 1, "mountpoint": "", "client_id": "c1",
             "username": "alice", "password": "pencil", "clean_session": True})
    request("vmq-register-m5-jwt", "/vernemq", "POST", "json", "auth_on_register_m5", None,
            {"peer_addr": "127.0.0.1", "peer_port": 1, "mountpoint": "", "client_id": "c1",
             "username": "alice", "password": "eyJhbGciOiJIUzI1NiJ9.eyJyaWQiOiJhbGljZSJ9.c2ln",
             "clean_start": True, "properties": {}})
    request("vmq-subscribe", "/vernemq", "POST", "json", "auth_on_subscribe", None,
            {"username": "alice", "mountpoint": "", "client_id": "c1",
             "topics": [{"topic": "alice/x", "qos": 1}, {"topic": "other", "qos": 0}]})
    request("vmq-subscribe-m5", "/vernemq", "POST", "json", "auth_on_subscribe_m5", None,
            {"username": "alice", "mountpoint": "", "client_id": "c1", "properties": {},
             "topics": [{"topic": "alice/#", "qos": 2, "no_local": False, "rap": False,
                         "retain_handling": "send_retain"}]})
    request("vmq-publish", "/vernemq", "POST", "json", "auth_on_publish", None,
            {"username": "alice", "mountpoint": "", "client_id": "c1", "qos": 1,
             "topic": "alice/x", "payload": "aGk=", "retain": False})
    request("vmq-publish-m5", "/vernemq", "POST", "json", "auth_on_publish_m5", None,
            {"username": "alice", "mountpoint": "", "client_id": "c1", "qos": 0,
             "topic": "sensors/alice/t", "payload": "aGk=", "retain": True, "properties": {}})
    for name, data in [("first", client_first), ("final", client_final)]:
        request(f"vmq-on-auth-{name}", "/vernemq", "POST", "json", "on_auth_m5", None,
                {"username": None, "mountpoint": "", "client_id": "c1",
                 "properties": {"p_authentication_method": "SCRAM-SHA-256",
                                "p_authentication_data": data}})
    request("vmq-unserved", "/vernemq", "POST", "json", "on_deliver", None, {"client_id": "c1"})
    request("unknown-path", "/nope", "DELETE", "text", None, "a=b", "x")


def main():
    transcripts = load_transcripts()
    parser_seeds(transcripts)
    server_seeds(transcripts)
    client_seeds()
    saslprep_seeds()
    credential_seeds()
    service_seeds()


if __name__ == "__main__":
    main()
