#!/usr/bin/env python3
"""Small real servers for captures/generate.sh: Python's ssl on a socket, after a plaintext
prefix as the protocol does it, or plain HTTP. Serves connections until killed.

usage: plaintext_servers.py MODE PORT CERT KEY [HOST]
  smtp      SMTP greeting, EHLO, STARTTLS (RFC 3207), then TLS
  postgres  PostgreSQL SSLRequest answered with 'S', then TLS
  http      plain HTTP/1.0 on the port (a TLS client gets an HTTP 400 back)
  ssh       an SSH banner on connect, as sshd sends it
  banner    a banner holding terminal escapes (OSC title, clear screen, colour, a bidi override)
  markup    reads the ClientHello, answers with an HTTP error page holding a <script>
  silent    accepts and reads, never answers (a stalled TLS server)
  reset     reads the ClientHello, then resets the connection (SO_LINGER 0)
  resetfirst  resets its first connection as `reset` does, then serves HTTPS: a page per request
  close     reads the ClientHello, then closes it (FIN)
  nosni     TLS, but refuses a ClientHello without SNI with unrecognized_name
HOST is the address to listen on (default 127.0.0.1).
"""
import socket
import ssl
import struct
import sys
import time


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
    elif mode == "ssh":
        conn.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        conn.recv(4096)
        return
    elif mode == "banner":
        conn.recv(4096)
        conn.sendall(b"\x1b]0;PWNED\x07\x1b[2J\x1b[31m220 evil \xe2\x80\xaeknab\x1b[0m\r\n")
        return
    elif mode == "markup":
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n\r\n"
                     b"<html><script>alert('banner')</script></html>\r\n")
        return
    elif mode == "silent":
        conn.recv(4096)
        time.sleep(10)
        return
    elif mode in ("reset", "close"):
        conn.recv(4096)
        if mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return
    elif mode == "http":
        request = conn.recv(4096)
        if request.startswith((b"GET", b"HEAD", b"POST")):
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        else:
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        return
    tls = ctx.wrap_socket(conn, server_side=True)
    if mode == "https":
        tls.recv(4096)
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
    else:
        tls.recv(1024)
        tls.sendall(b"bye\r\n")
    tls.unwrap()


def refuse_without_sni(tls, server_name, ctx):
    if server_name is None:
        return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
    return None


def main():
    mode, port, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    host = sys.argv[5] if len(sys.argv) > 5 else "127.0.0.1"
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    if mode == "nosni":
        ctx.sni_callback = refuse_without_sni
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.create_server((host, port), family=family)
    served = 0
    while True:
        conn, _ = server.accept()
        now = mode
        if mode == "resetfirst":
            now = "reset" if served == 0 else "https"
        served += 1
        try:
            serve(now, conn, ctx)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
