#!/usr/bin/env python3
"""SCRAM interop with `scramp` (an independent implementation) over real MQTT 5 connections.

Run by tests/interop.rs; needs scramp (`pip install -r testkit/peers/requirements.txt`, done by
scripts/setup-test-peers).

  client  scramp is the SCRAM client; connects to the broker, authenticates on CONNECT,
          optionally re-authenticates (AUTH 0x19), and prints one JSON line per run.
  server  scramp is the SCRAM server behind a minimal MQTT 5 front; prints {"port": N},
          serves --connections connections (the crate's client connects), printing one JSON
          line per connection, then exits.

The MQTT 5 packets (CONNECT, CONNACK, AUTH, PINGREQ/PINGRESP, DISCONNECT) are encoded and
decoded here, by hand, from MQTT 5.0 chapters 2 and 3: no MQTT library is involved, so the
only shared code between the two sides is the wire format.
"""

import argparse
import json
import socket
import struct
import sys

from scramp import ScramClient, ScramException, ScramMechanism

CONNECT, CONNACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 1, 2, 12, 13, 14, 15
AUTH_METHOD, AUTH_DATA = 0x15, 0x16


def varint(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def binary(b):
    return struct.pack(">H", len(b)) + b


def props(method=None, data=None):
    body = b""
    if method is not None:
        body += bytes([AUTH_METHOD]) + utf8(method)
    if data is not None:
        body += bytes([AUTH_DATA]) + binary(data)
    return varint(len(body)) + body


def packet(kind, body, flags=0):
    return bytes([(kind << 4) | flags]) + varint(len(body)) + body


def connect_packet(client_id, method, data):
    # Protocol name, level 5, flags: clean start; keep alive 30 s.
    variable = utf8("MQTT") + bytes([5, 0x02]) + struct.pack(">H", 30) + props(method, data)
    return packet(CONNECT, variable + utf8(client_id))


def auth_packet(reason, method, data):
    return packet(AUTH, bytes([reason]) + props(method, data))


def connack_packet(reason, method=None, data=None):
    return packet(CONNACK, bytes([0, reason]) + props(method, data))


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def read(self):
        """Returns (type, flags, body) of the next packet."""
        self._need(2)
        length, mult, i = 0, 1, 1
        while True:
            self._need(i + 1)
            byte = self.buf[i]
            length += (byte & 0x7F) * mult
            mult *= 128
            i += 1
            if not byte & 0x80:
                break
            if i > 4:
                raise ValueError("malformed remaining length")
        self._need(i + length)
        first, body = self.buf[0], self.buf[i:i + length]
        self.buf = self.buf[i + length:]
        return first >> 4, first & 0x0F, body

    def send(self, data):
        self.sock.sendall(data)


def read_props(body, pos):
    """Parses a property block; returns ({id: value}, position after it)."""
    length, mult = 0, 1
    while True:
        byte = body[pos]
        pos += 1
        length += (byte & 0x7F) * mult
        mult *= 128
        if not byte & 0x80:
            break
    end, out = pos + length, {}
    while pos < end:
        pid = body[pos]
        pos += 1
        if pid in (0x15, 0x16, 0x1A, 0x1C, 0x1F, 0x12, 0x03, 0x08, 0x09):  # strings / binary
            (n,) = struct.unpack(">H", body[pos:pos + 2])
            out[pid] = body[pos + 2:pos + 2 + n]
            pos += 2 + n
        elif pid == 0x26:  # user property: two strings
            for _ in range(2):
                (n,) = struct.unpack(">H", body[pos:pos + 2])
                pos += 2 + n
        elif pid in (0x11, 0x27):  # four-byte integers
            out[pid] = struct.unpack(">I", body[pos:pos + 4])[0]
            pos += 4
        elif pid in (0x21, 0x22, 0x13):  # two-byte integers
            out[pid] = struct.unpack(">H", body[pos:pos + 2])[0]
            pos += 2
        elif pid in (0x24, 0x25, 0x28, 0x29, 0x2A, 0x17, 0x19, 0x01):  # bytes
            out[pid] = body[pos]
            pos += 1
        elif pid == 0x0B:  # subscription identifier (varint)
            while body[pos] & 0x80:
                pos += 1
            pos += 1
        else:
            raise ValueError(f"unknown property 0x{pid:02X}")
    return out, end


def scram_round(conn, client, method, reason, result, key):
    """Sends client-first (CONNECT already sent or AUTH 0x19), answers AUTH 0x18, returns the
    final packet's (type, reason, properties)."""
    kind, _, body = conn.read()
    if kind == CONNACK:
        p, _ = read_props(body, 2)
        return kind, body[1], p
    if kind != AUTH or body[0] != 0x18:
        raise ValueError(f"expected AUTH 0x18, got type {kind}")
    p, _ = read_props(body, 1)
    if p.get(AUTH_METHOD, b"").decode() != method:
        raise ValueError("AUTH 0x18 with a different authentication method")
    client.set_server_first(p[AUTH_DATA].decode())
    conn.send(auth_packet(0x18, method, client.get_client_final().encode()))
    kind, _, body = conn.read()
    if kind == CONNACK:
        p, _ = read_props(body, 2)
        return kind, body[1], p
    if kind == AUTH:
        p, _ = read_props(body, 1)
        return kind, body[0], p
    if kind == DISCONNECT:
        return kind, body[0] if body else 0, {}
    raise ValueError(f"unexpected packet type {kind} after client-final")


def verify(client, p, result, key):
    try:
        client.set_server_final(p.get(AUTH_DATA, b"").decode())
        result[key] = True
    except ScramException as e:
        result[key] = False
        result[key + "_error"] = str(e)


def run_client(args):
    result = {"mechanism": args.mechanism, "user": args.user}
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=20)
    conn = Conn(sock)
    client = ScramClient([args.mechanism], args.user, args.password)
    conn.send(connect_packet(args.client_id, args.mechanism, client.get_client_first().encode()))
    kind, reason, p = scram_round(conn, client, args.mechanism, 0, result, "server_verified")
    result["connack"] = reason
    result["connack_data"] = p.get(AUTH_DATA, b"").decode(errors="replace")
    if kind == CONNACK and reason == 0:
        verify(client, p, result, "server_verified")
        if args.reauth and result["server_verified"]:
            client = ScramClient([args.mechanism], args.user, args.reauth_password or args.password)
            conn.send(auth_packet(0x19, args.mechanism, client.get_client_first().encode()))
            kind, reason, p = scram_round(conn, client, args.mechanism, 0, result, "reauth_verified")
            result["reauth_packet"] = {AUTH: "AUTH", DISCONNECT: "DISCONNECT", CONNACK: "CONNACK"}.get(kind)
            result["reauth_reason"] = reason
            if kind == AUTH and reason == 0:
                verify(client, p, result, "reauth_verified")
        if result.get("reauth_packet") != "DISCONNECT":
            conn.send(packet(PINGREQ, b""))
            kind, _, _ = conn.read()
            result["pingresp"] = kind == PINGRESP
            conn.send(packet(DISCONNECT, bytes([0])))
    sock.close()
    print(json.dumps(result), flush=True)


def run_server(args):
    mechanisms = {}
    for name in args.mechanisms.split(","):
        m = ScramMechanism(name)
        mechanisms[name] = (m, m.make_auth_info(args.password, iteration_count=args.iterations))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(30)
    print(json.dumps({"port": listener.getsockname()[1]}), flush=True)
    for _ in range(args.connections):
        sock, _ = listener.accept()
        sock.settimeout(20)
        conn = Conn(sock)
        result = {}
        try:
            kind, _, body = conn.read()
            if kind != CONNECT:
                raise ValueError("first packet is not CONNECT")
            pos = 2 + struct.unpack(">H", body[0:2])[0] + 1 + 1 + 2  # name, level, flags, keep alive
            p, _ = read_props(body, pos)
            method = p.get(AUTH_METHOD, b"").decode()
            result["mechanism"] = method
            if method not in mechanisms:
                conn.send(connack_packet(0x8C))
                raise ValueError(f"unsupported method {method!r}")
            m, info = mechanisms[method]
            server = m.make_server(lambda username: info)
            server.set_client_first(p[AUTH_DATA].decode())
            result["user"] = server.user if hasattr(server, "user") else None
            conn.send(auth_packet(0x18, method, server.get_server_first().encode()))
            kind, _, body = conn.read()
            if kind != AUTH or body[0] != 0x18:
                raise ValueError("expected AUTH 0x18")
            p, _ = read_props(body, 1)
            try:
                server.set_client_final(p[AUTH_DATA].decode())
                accepted = True
            except ScramException as e:
                accepted = False
                result["error"] = str(e)
            final = server.get_server_final().encode()
            conn.send(connack_packet(0 if accepted else 0x87, method, final))
            result["accepted"] = accepted
            if accepted:
                # The client disconnects (or pings first); wait for it to close.
                while True:
                    kind, _, _ = conn.read()
                    if kind == PINGREQ:
                        conn.send(packet(PINGRESP, b""))
                    elif kind == DISCONNECT:
                        break
        except (EOFError, ValueError, KeyError, OSError, ScramException) as e:
            result.setdefault("error", f"{type(e).__name__}: {e}")
        finally:
            sock.close()
        print(json.dumps(result), flush=True)
    listener.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--user", required=True)
    c.add_argument("--password", required=True)
    c.add_argument("--mechanism", required=True)
    c.add_argument("--client-id", default="scramp-client")
    c.add_argument("--reauth", action="store_true")
    c.add_argument("--reauth-password")
    s = sub.add_parser("server")
    s.add_argument("--password", required=True)
    s.add_argument("--mechanisms", default="SCRAM-SHA-256,SCRAM-SHA-512")
    s.add_argument("--iterations", type=int, default=4096)
    s.add_argument("--connections", type=int, default=1)
    args = parser.parse_args()
    if args.command == "client":
        run_client(args)
    else:
        run_server(args)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report, do not hang the test
        print(json.dumps({"fatal": f"{type(e).__name__}: {e}"}), flush=True)
        sys.exit(1)
