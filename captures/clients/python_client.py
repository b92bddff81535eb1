#!/usr/bin/env python3
"""A TLS client on Python's ssl module, for captures/generate.sh.

It verifies the server against CAFILE and the name SERVERNAME (ssl.create_default_context),
writes its secrets to KEYLOG through SSLContext.keylog_filename (NSS key log format), sends one
line, reads the answer and closes with close_notify (unwrap).

usage: python_client.py HOST PORT SERVERNAME CAFILE KEYLOG
"""
import socket
import ssl
import sys


def main():
    host, port, servername, cafile, keylog = sys.argv[1:6]
    context = ssl.create_default_context(cafile=cafile)
    context.keylog_filename = keylog
    with socket.create_connection((host, int(port)), timeout=3) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=servername) as tls:
                tls.sendall(b"hello from python\n")
                tls.recv(4096)
                tls.unwrap()
        except (ssl.SSLError, OSError) as error:
            sys.exit(f"python_client: {error}")


if __name__ == "__main__":
    main()
