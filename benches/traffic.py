#!/usr/bin/env python3
"""Real TLS traffic for the benchmark captures (benches/make_capture.sh runs it).

  traffic.py server DIR              the TLS servers, one process per port (Python's ssl,
                                     that is OpenSSL), until killed
  traffic.py clients DIR HOST SECS N N client processes, each opening short connections in a
                                     weighted mix of successes and failures for SECS seconds
  traffic.py bulk DIR HOST MB SECS   one long connection downloading MB megabytes, paced
                                     over about SECS seconds

Nothing here writes a packet: the kernel's TCP and OpenSSL's TLS do, and tcpdump records them.
"""
import multiprocessing
import os
import random
import socket
import ssl
import sys
import threading
import time

# The ports, each a server configuration.
OK = 8443          # TLS 1.2 and 1.3, ECDSA leaf + intermediate, session tickets
TLS12 = 8444       # TLS 1.2 only
MTLS = 8445        # TLS 1.3, client certificate required
EXPIRED = 8446     # an expired leaf
TLS13_ONLY = 8447  # TLS 1.3 only (a TLS 1.2-only client fails with protocol_version)
HRR = 8448         # openssl s_server -groups P-256: Python's X25519 key share gets a HelloRetryRequest
CLOSED = 8449      # nothing listens: refused
BULK = 8450        # bulk downloads
PLAIN = 8451       # a plaintext HTTP server on a port clients speak TLS to

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


def sha256_suites(ctx):
    """make_capture.sh with TLSDIAG_BENCH_SUITES=sha256: TLS 1.2 suites with SHA-256, as browsers
    negotiate (TLS 1.3's come from OPENSSL_CONF)."""
    if os.environ.get("TLSDIAG_BENCH_SUITES") == "sha256":
        ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")


def server_context(d, leaf, versions=(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3),
                   client_cert=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version, ctx.maximum_version = versions
    sha256_suites(ctx)
    ctx.load_cert_chain(os.path.join(d, leaf + ".chain.pem"), os.path.join(d, leaf + ".key"))
    if client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(os.path.join(d, "ca.pem"))
    return ctx


def serve(port, ctx, bulk_dir=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1024)
    while True:
        conn, _ = s.accept()
        conn.settimeout(10)
        if bulk_dir is None:
            answer(conn, ctx)
        else:
            # Bulk connections last the whole run: each gets its own thread.
            threading.Thread(target=send_bulk, args=(conn, ctx), daemon=True).start()


def answer(conn, ctx):
    try:
        if ctx is None:
            conn.recv(4096)
            conn.sendall(RESPONSE)
            return
        with ctx.wrap_socket(conn, server_side=True) as t:
            t.recv(4096)
            t.sendall(RESPONSE)
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def send_bulk(conn, ctx):
    try:
        with ctx.wrap_socket(conn, server_side=True) as t:
            # The request names the size and the pace: "MB SECS".
            mb, secs = (float(x) for x in t.recv(4096).split())
            chunk = os.urandom(1 << 16)
            total = int(mb * (1 << 20))
            start, sent = time.monotonic(), 0
            while sent < total:
                n = min(len(chunk), total - sent)
                t.sendall(chunk[:n])
                sent += n
                ahead = sent / total * secs - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        conn.close()


def servers(d):
    both = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
    plan = [
        (OK, server_context(d, "leaf")),
        (TLS12, server_context(d, "leaf", (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2))),
        (MTLS, server_context(d, "leaf", (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3), True)),
        (EXPIRED, server_context(d, "expired", both)),
        (TLS13_ONLY, server_context(d, "leaf", (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3))),
        (PLAIN, None),
    ]
    procs = [multiprocessing.Process(target=serve, args=(p, c), daemon=True) for p, c in plan]
    # Two accept loops for the busiest port, so that server and clients keep both cores busy.
    procs.append(multiprocessing.Process(target=serve, args=(OK, plan[0][1]), daemon=True))
    procs.append(multiprocessing.Process(
        target=serve, args=(BULK, server_context(d, "leaf"), d), daemon=True))
    for p in procs:
        p.start()
    for p in procs:
        p.join()


def client_context(d, versions=(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3), ca="ca.pem",
                   cert=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version, ctx.maximum_version = versions
    sha256_suites(ctx)
    ctx.load_verify_locations(os.path.join(d, ca))
    # make_capture.sh with TLSDIAG_BENCH_KEYS=1: the clients' key log, for --keylog figures.
    if os.environ.get("TLSDIAG_BENCH_KEYLOG"):
        ctx.keylog_filename = os.environ["TLSDIAG_BENCH_KEYLOG"]
    if cert:
        ctx.load_cert_chain(os.path.join(d, "client.chain.pem"), os.path.join(d, "client.key"))
    return ctx


def one(host, port, ctx, sni="server.test", session=None, want_session=False):
    s = socket.create_connection((host, port), timeout=5)
    try:
        with ctx.wrap_socket(s, server_hostname=sni, session=session) as t:
            t.sendall(b"GET / HTTP/1.1\r\nHost: server.test\r\n\r\n")
            t.recv(4096)
            return t.session if want_session else None
    finally:
        s.close()


def clients(d, host, secs, seed):
    rng = random.Random(seed)
    both = client_context(d)
    tls12 = client_context(d, (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2))
    other_ca = client_context(d, ca="other.pem")
    mtls = client_context(d, (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3), cert=True)
    no_cert = client_context(d, (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_3))
    sessions = {}
    # (weight, what): successes dominate, as on a real server; every failure class is there.
    mix = [
        (40, "ok13"), (15, "ok12"), (10, "resume13"), (5, "resume12"), (5, "mtls"), (5, "hrr"),
        (4, "unknown_ca"), (3, "expired"), (3, "name_mismatch"), (3, "version"),
        (2, "no_client_cert"), (2, "refused"), (2, "plaintext"),
    ]
    kinds = [k for w, k in mix for _ in range(w)]
    end = time.monotonic() + secs
    while time.monotonic() < end:
        kind = rng.choice(kinds)
        try:
            if kind == "ok13":
                one(host, OK, both)
            elif kind == "ok12":
                one(host, TLS12, tls12)
            elif kind in ("resume13", "resume12"):
                ctx, port = (both, OK) if kind == "resume13" else (tls12, TLS12)
                got = one(host, port, ctx, session=sessions.get(kind), want_session=True)
                sessions[kind] = got
            elif kind == "mtls":
                one(host, MTLS, mtls)
            elif kind == "hrr":
                one(host, HRR, both)
            elif kind == "unknown_ca":
                one(host, OK, other_ca)
            elif kind == "expired":
                one(host, EXPIRED, both)
            elif kind == "name_mismatch":
                one(host, OK, both, sni="wrong.test")
            elif kind == "version":
                one(host, TLS13_ONLY, tls12)
            elif kind == "no_client_cert":
                one(host, MTLS, no_cert)
            elif kind == "refused":
                socket.create_connection((host, CLOSED), timeout=5).close()
            elif kind == "plaintext":
                one(host, PLAIN, both)
        except (OSError, ssl.SSLError, ValueError):
            pass


def bulk(d, host, mb, secs):
    ctx = client_context(d)
    s = socket.create_connection((host, BULK), timeout=30)
    with ctx.wrap_socket(s, server_hostname="server.test") as t:
        t.sendall(f"{mb} {secs}".encode())
        total = int(float(mb) * (1 << 20))
        got = 0
        while got < total:
            data = t.recv(1 << 16)
            if not data:
                break
            got += len(data)


def main():
    role, d = sys.argv[1], sys.argv[2]
    if role == "server":
        servers(d)
    elif role == "clients":
        host, secs, n = sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
        procs = [multiprocessing.Process(target=clients, args=(d, host, secs, i)) for i in range(n)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
    elif role == "bulk":
        bulk(d, sys.argv[3], sys.argv[4], float(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
