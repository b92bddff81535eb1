#!/usr/bin/env node
// A TLS client on Node's tls module (Node's bundled OpenSSL), for captures/generate.sh: it
// connects, appends every line Node hands to the socket's 'keylog' event (NSS key log format,
// one secret a line) to KEYLOG, sends one line, reads the answer and ends the connection.
// It verifies the server's certificate against CAFILE and the name SERVERNAME (Node's default,
// rejectUnauthorized).
//
// usage: node node_client.js HOST PORT SERVERNAME CAFILE KEYLOG
'use strict';
const fs = require('fs');
const tls = require('tls');

const [host, port, servername, cafile, keylog] = process.argv.slice(2);
const socket = tls.connect({ host, port: Number(port), servername, ca: fs.readFileSync(cafile) });
socket.on('keylog', (line) => fs.appendFileSync(keylog, line));
socket.on('secureConnect', () => socket.write('hello from node\n'));
socket.on('data', () => socket.end());
socket.on('error', (e) => {
  console.error(`node_client: ${e.message}`);
  process.exitCode = 1;
});
socket.setTimeout(3000, () => socket.destroy());
