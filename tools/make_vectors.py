#!/usr/bin/env python3
"""Generates the crate's own transcripts in tests/vectors/ with an independent
SCRAM implementation (Python's hashlib/hmac, RFC 5802 §3), so the Rust code is
checked against something it did not produce.

Run from the repository root: python3 tools/make_vectors.py
"""
import base64, hashlib, hmac, json, os, unicodedata, stringprep

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "vectors")
HASH = {"SCRAM-SHA-256": hashlib.sha256, "SCRAM-SHA-512": hashlib.sha512}


def saslprep(s):
    """RFC 4013 mapping + NFKC (Unicode 3.2); the inputs used here are all valid."""
    mapped = "".join(" " if stringprep.in_table_c12(c) else "" if stringprep.in_table_b1(c) else c for c in s)
    return unicodedata.ucd_3_2_0.normalize("NFKC", mapped)


def b64(b):
    return base64.b64encode(b).decode()


def esc(name):
    return name.replace("=", "=3D").replace(",", "=2C")


def keys(mech, password, salt, i):
    h = HASH[mech.replace("-PLUS", "")]
    salted = hashlib.pbkdf2_hmac(h().name, saslprep(password).encode(), salt, i)
    ck = hmac.new(salted, b"Client Key", h).digest()
    return h, ck, h(ck).digest(), hmac.new(salted, b"Server Key", h).digest()


def exchange(name, source, mech, username, password, salt, i, cnonce, snonce, *, authzid=None, cb=None,
             client_password=None, flag=None, role="both", expect="success", edit=None):
    h, ck, sk, svk = keys(mech, client_password or password, salt, i)
    cb_name = cb["type"] if cb else None
    if flag is None:
        flag = f"p={cb_name}" if mech.endswith("-PLUS") else ("y" if cb else "n")
    gs2 = f"{flag},{'a=' + esc(authzid) if authzid else ''},"
    bare = f"n={esc(saslprep(username))},r={cnonce}"
    client_first = gs2 + bare
    server_first = f"r={cnonce}{snonce},s={b64(salt)},i={i}"
    cbind = gs2.encode() + (bytes.fromhex(cb["data_hex"]) if cb and flag.startswith("p=") else b"")
    without_proof = f"c={b64(cbind)},r={cnonce}{snonce}"
    msgs = {"client_first": client_first, "server_first": server_first, "without_proof": without_proof}
    if edit:
        edit(msgs)
    auth = f"{msgs['client_first'][len(gs2):]},{msgs['server_first']},{msgs['without_proof']}".encode()
    proof = bytes(a ^ b for a, b in zip(ck, hmac.new(sk, auth, h).digest()))
    client_final = f"{msgs['without_proof']},p={b64(proof)}"
    # The server signature comes from the server's stored password, not the client's.
    _, _, _, real_svk = keys(mech, password or "x", salt, i)
    server_final = "v=" + b64(hmac.new(real_svk, auth, h).digest())
    if expect == "server-rejects-client-final":
        server_final = "e=invalid-proof"
    t = {
        "name": name, "source": source, "mechanism": mech, "username": username, "password": password,
        "authzid": authzid, "salt_b64": b64(salt), "iterations": i, "client_nonce": cnonce, "server_nonce": snonce,
        "channel_binding": cb, "client_first": msgs["client_first"], "server_first": msgs["server_first"],
        "client_final": client_final, "server_final": server_final, "role": role, "expect": expect,
    }
    if "server_final" in msgs:
        t["server_final"] = msgs["server_final"]
    if expect == "server-rejects-client-first":
        t["server_first"] = t["client_final"] = t["server_final"] = None
    for k in ("client_min_iterations", "client_max_iterations"):
        if k in msgs:
            t[k] = msgs[k]
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(t, f, indent=1, ensure_ascii=False)
        f.write("\n")


SALT = bytes.fromhex("5b6d99689d12358eeca04b141236fa81")
SRC = "derived (tools/make_vectors.py, Python hashlib)"
TLS_EXP = {"type": "tls-exporter", "data_hex": "9f" * 32}
TLS_SEP = {"type": "tls-server-end-point", "data_hex": "c0ffee" * 16}

exchange("escaped-username", SRC, "SCRAM-SHA-256", "a,b=c", "pencil", SALT, 4096, "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j")
exchange("saslprep-nonascii", SRC + "; RFC 4013 §3 mappings", "SCRAM-SHA-256", "I\u00adX\u2168", "p\u00e4ss\u00a0w\u00adord\u2168", SALT, 4096, "cnonceAAAAAAAAAAAAAAAAA", "snonceBBBBBBBBBBBBBBBBBB")
exchange("authzid-same-as-user", SRC, "SCRAM-SHA-512", "user", "pencil", SALT, 4096, "c1c2c3c4c5c6c7c8c9c0c1c2", "s1s2s3s4s5s6s7s8s9s0", authzid="user")
exchange("plus-tls-exporter-sha256", SRC + "; RFC 9266", "SCRAM-SHA-256-PLUS", "user", "pencil", SALT, 4096, "plusnonce0123456789abcdef", "serverpart0123456789", cb=TLS_EXP)
exchange("plus-tls-server-end-point-sha512", SRC + "; RFC 5929 §4", "SCRAM-SHA-512-PLUS", "user", "pencil", SALT, 4096, "plusnonce0123456789abcdef", "serverpart0123456789", cb=TLS_SEP)
exchange("wrong-password", SRC, "SCRAM-SHA-256", "user", "pencil", SALT, 4096, "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", client_password="pencil2", role="server", expect="server-rejects-client-final")
exchange("unknown-user", SRC, "SCRAM-SHA-256", "nobody", None, SALT, 4096, "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", client_password="pencil", role="server", expect="server-rejects-client-final")


def tamper_nonce(m):
    m["without_proof"] = m["without_proof"].replace(",r=", ",r=X")


def wrong_cbind(m):
    m["without_proof"] = m["without_proof"].replace("c=biws", "c=eSws")


def mandatory_ext(m):
    m["client_first"] = m["client_first"].replace("n,,n=", "n,,m=must,n=")


def client_ext(m):
    m["client_first"] += ",x=kept-extension"


def short_nonce(m):
    m["server_first"] = m["server_first"].replace("r=rOprNGfwEbeRWgbNEkqO", "r=rOprNGfwEbeRWgbNEkq")


def low_iterations(m):
    m["server_first"] = m["server_first"].replace("i=4096", "i=4095")


def bad_signature(m):
    m["server_final"] = "v=" + b64(bytes(32))


exchange("client-final-nonce-tampered", SRC, "SCRAM-SHA-256", "user", "pencil", SALT, 4096, "rOprNGfwEbeRWgbNEkqO", "srvnonce123456789012345", role="server", expect="server-rejects-client-final", edit=tamper_nonce)
exchange("channel-binding-flag-mismatch", SRC, "SCRAM-SHA-256", "user", "pencil", SALT, 4096, "rOprNGfwEbeRWgbNEkqO", "srvnonce123456789012345", role="server", expect="server-rejects-client-final", edit=wrong_cbind)
exchange("mandatory-extension", SRC + "; RFC 5802 §5.1 m=", "SCRAM-SHA-256", "user", "pencil", SALT, 4096, "rOprNGfwEbeRWgbNEkqO", "srvnonce123456789012345", role="server", expect="server-rejects-client-first", edit=mandatory_ext)
exchange("client-first-extension-kept", SRC + "; RFC 5802 §7 extensions", "SCRAM-SHA-256", "user", "pencil", SALT, 4096, "rOprNGfwEbeRWgbNEkqO", "srvnonce123456789012345", role="server", edit=client_ext)
exchange("downgrade-y-flag", SRC + "; RFC 5802 §6", "SCRAM-SHA-256", "user", "pencil", SALT, 4096, "rOprNGfwEbeRWgbNEkqO", "srvnonce123456789012345", cb=TLS_EXP, expect="server-rejects-client-first")
exchange("server-nonce-not-extending", SRC, "SCRAM-SHA-256", "user", "pencil", SALT, 4096, "rOprNGfwEbeRWgbNEkqO", "srvnonce123456789012345", role="client", expect="client-rejects-server-first", edit=short_nonce)
exchange("iterations-below-window", SRC, "SCRAM-SHA-256", "user", "pencil", SALT, 4096, "rOprNGfwEbeRWgbNEkqO", "srvnonce123456789012345", role="client", expect="client-rejects-server-first", edit=low_iterations)
exchange("bad-server-signature", SRC, "SCRAM-SHA-512", "user", "pencil", SALT, 4096, "rOprNGfwEbeRWgbNEkqO", "srvnonce123456789012345", role="client", expect="client-rejects-server-final", edit=bad_signature)
