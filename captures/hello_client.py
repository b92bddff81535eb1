#!/usr/bin/env python3
"""A TLS client (Python's ssl, through a memory BIO) that gives up silently: it sends its real
ClientHello, reads the server's answer, and then closes the connection without an alert, the
way a client that rejects a certificate without saying so, or that times out, behaves.

usage: hello_client.py reset|close HOST PORT SNI [LOCAL_PORT]
  reset  close with RST (SO_LINGER 0)
  close  close with FIN
  LOCAL_PORT  the source port to connect from (default: any)
"""
import socket
import ssl
import struct
import sys
import time


def main():
    mode, host, port, sni = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    local_port = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2  # the server's certificate travels in clear
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    sock = socket.create_connection((host, port), source_address=("", local_port))
    sock.sendall(outgoing.read())
    sock.settimeout(2)
    received = b""
    try:
        while len(received) < 200:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    except socket.timeout:
        pass
    time.sleep(0.2)
    if mode == "reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


if __name__ == "__main__":
    main()
