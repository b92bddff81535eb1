#!/usr/bin/env python3
"""Runs one side of a real SSLv2 handshake with scapy's TLS automata (no OpenSSL or GnuTLS
installed here speaks SSLv2 any more; scapy's automata implement it, keys and all).

usage: sslv2_peers.py server PORT CERT KEY     answers one connection, echoes its data, exits
       sslv2_peers.py client HOST PORT          SSLv2 CLIENT-HELLO, CLIENT-MASTER-KEY, one
                                                line of data, then "goodbye"

SSLv2 has no close alert: scapy's client ends a session when the server's data starts with
"goodbye", so the echo server's echo of it is what closes the connection.

Nothing here writes a packet by hand: the automata build every message from the protocol's
state, as an SSLv2 peer would; generate.sh records what they send with tcpdump.
"""
import sys

from scapy.config import conf
from scapy.layers.tls.automaton_cli import TLSClientAutomaton
from scapy.layers.tls.automaton_srv import TLSServerAutomaton


def main():
    conf.verb = 0
    role = sys.argv[1]
    if role == "server":
        port, cert, key = int(sys.argv[2]), sys.argv[3], sys.argv[4]
        srv = TLSServerAutomaton(server="127.0.0.1", sport=port, mycert=cert, mykey=key,
                                 is_echo_server=True, max_client_idle_time=3)
        srv.run()
    elif role == "client":
        host, port = sys.argv[2], int(sys.argv[3])
        cli = TLSClientAutomaton(server=host, dport=port, version="sslv2",
                                 data=[b"GET / HTTP/1.0\r\n\r\n", b"goodbye"])
        cli.run()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
