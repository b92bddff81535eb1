#!/usr/bin/env python3
"""Small real servers for captures/generate.sh: Python's ssl on a socket, after a plaintext
prefix as the protocol does it, or plain HTTP. Serves connections until killed.

usage: plaintext_servers.py MODE PORT CERT KEY
  smtp      SMTP greeting, EHLO, STARTTLS (RFC 3207), then TLS
  postgres  PostgreSQL SSLRequest answered with 'S', then TLS
  http      plain HTTP/1.0 on the port (a TLS client gets an HTTP 400 back)
"""
import socket
import ssl
import sys


def serve(mode, conn, ctx):
    if mode == "smtp":
        conn.sendall(b"220 mail.server.test ESMTP tlsdiag test server\r\n")
        conn.recv(1024)  # EHLO
        conn.sendall(b"250-mail.server.test\r\n250 STARTTLS\r\n")
        conn.recv(1024)  # STARTTLS
        conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
    elif mode == "postgres":
        conn.recv(8)  # SSLRequest: length 8, code 80877103
        conn.sendall(b"S")
    elif mode == "http":
        request = conn.recv(4096)
        if request.startswith((b"GET", b"HEAD", b"POST")):
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        else:
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        return
    tls = ctx.wrap_socket(conn, server_side=True)
    tls.recv(1024)
    tls.sendall(b"bye\r\n")
    tls.unwrap()


def main():
    mode, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    server = socket.create_server(("127.0.0.1", port))
    while True:
        conn, _ = server.accept()
        try:
            serve(mode, conn, ctx)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
