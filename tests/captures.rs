//! Every bundled capture, analysed whole: the facts of each connection and its first verdict.
//!
//! The expected values were read off the captures with tshark (frames, streams, SNI, versions,
//! ciphers, alerts) and from the scenario that made each one (captures/README.md); the tshark
//! comparison in tshark_agreement.rs checks the wire facts independently.

mod common;

use tlsdiag::connection::{Connection, EndedBy, Outcome, Stage};
use tlsdiag::flow::Side;

/// What one connection must show.
struct Expect {
    file: &'static str,
    stream: u64,
    sni: Option<&'static str>,
    offered: &'static [&'static str],
    version: Option<&'static str>,
    cipher: Option<&'static str>,
    /// (frame, sender, code) of each cleartext alert.
    alerts: &'static [(u64, Side, u8)],
    outcome: Outcome,
    stage: Stage,
    ended_by: EndedBy,
    frame: u64,
    certificates: usize,
}

const TLS13_ONLY: &[&str] = &["TLSv1.3"];
const TLS12_ONLY: &[&str] = &["TLSv1.2"];
const OPENSSL_DEFAULT: &[&str] = &["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0"];
const AES256_13: Option<&str> = Some("TLS_AES_256_GCM_SHA384");

fn established(file: &'static str, stream: u64, frame: u64) -> Expect {
    Expect {
        file,
        stream,
        sni: Some("server.test"),
        offered: OPENSSL_DEFAULT,
        version: Some("TLSv1.3"),
        cipher: AES256_13,
        alerts: &[],
        outcome: Outcome::Established,
        stage: Stage::Established,
        ended_by: EndedBy::Server,
        frame,
        certificates: 0,
    }
}

fn expectations() -> Vec<Expect> {
    use EndedBy as E;
    let s12 = Some("TLSv1.2");
    vec![
        Expect {
            offered: TLS13_ONLY,
            ..established("tls13-sni-alpn.pcap", 0, 8)
        },
        Expect {
            offered: TLS12_ONLY,
            version: s12,
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            certificates: 2,
            ..established("tls12-ecdhe-chain.pcap", 0, 9)
        },
        Expect {
            offered: TLS13_ONLY,
            version: None,
            cipher: None,
            alerts: &[(6, Side::Server, 70)],
            outcome: Outcome::Failed,
            stage: Stage::ClientHello,
            ..established("protocol-version.pcap", 0, 6)
        },
        Expect {
            offered: TLS12_ONLY,
            version: None,
            cipher: None,
            alerts: &[(6, Side::Server, 40)],
            outcome: Outcome::Failed,
            stage: Stage::ClientHello,
            ..established("no-shared-cipher.pcap", 0, 6)
        },
        Expect {
            sni: Some("self-signed.test"),
            offered: TLS12_ONLY,
            version: s12,
            cipher: Some("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
            alerts: &[(8, Side::Client, 48)],
            outcome: Outcome::Failed,
            stage: Stage::ServerCertificate,
            ended_by: E::Client,
            certificates: 1,
            ..established("unknown-ca.pcap", 0, 8)
        },
        Expect {
            sni: None,
            offered: &[],
            version: None,
            cipher: None,
            outcome: Outcome::Failed,
            stage: Stage::TcpConnect,
            ..established("refused.pcap", 0, 2)
        },
        established("gnutls-tls13-any.pcap", 0, 10),
        Expect {
            offered: TLS12_ONLY,
            version: s12,
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            certificates: 2,
            ..established("tls12-dumpcap.pcapng", 0, 9)
        },
        Expect {
            sni: Some("self-signed.test"),
            offered: TLS12_ONLY,
            version: s12,
            cipher: Some("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
            certificates: 1,
            ..established("interleaved.pcap", 0, 23)
        },
        Expect {
            sni: Some("www.server.test"),
            offered: TLS12_ONLY,
            version: s12,
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            certificates: 2,
            ..established("interleaved.pcap", 1, 12)
        },
        Expect {
            offered: TLS13_ONLY,
            ..established("interleaved.pcap", 2, 36)
        },
        established("interleaved.pcap", 3, 61),
        Expect {
            sni: Some("self-signed.test"),
            offered: TLS13_ONLY,
            version: None,
            cipher: None,
            alerts: &[(52, Side::Server, 70)],
            outcome: Outcome::Failed,
            stage: Stage::ClientHello,
            ..established("interleaved.pcap", 4, 52)
        },
        Expect {
            offered: TLS12_ONLY,
            version: s12,
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            certificates: 1,
            ..established("resumed-tls12.pcap", 0, 9)
        },
        Expect {
            offered: TLS12_ONLY,
            version: s12,
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            ended_by: E::Client,
            ..established("resumed-tls12.pcap", 1, 20)
        },
        Expect {
            ended_by: E::Client,
            ..established("starttls-smtp.pcap", 0, 13)
        },
        Expect {
            ended_by: E::Client,
            ..established("postgres-sslrequest.pcap", 0, 10)
        },
        Expect {
            sni: None,
            ended_by: E::Client,
            ..established("tcp-fast-open.pcap", 0, 6)
        },
        Expect {
            sni: None,
            offered: &[],
            version: None,
            cipher: None,
            outcome: Outcome::NotTls,
            stage: Stage::TcpConnect,
            ended_by: E::Client,
            ..established("http-on-443.pcap", 0, 4)
        },
        Expect {
            version: None,
            cipher: None,
            outcome: Outcome::Failed,
            stage: Stage::ClientHello,
            ..established("http-on-443.pcap", 1, 16)
        },
        Expect {
            sni: None,
            offered: &[],
            version: s12,
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            certificates: 2,
            ..established("one-direction-server-only.pcap", 0, 4)
        },
        established("ipv6-veth.pcap", 0, 8),
        Expect {
            offered: TLS13_ONLY,
            ended_by: E::Client,
            ..established("resumed-tls13.pcap", 0, 8)
        },
        Expect {
            offered: TLS13_ONLY,
            ..established("resumed-tls13.pcap", 1, 25)
        },
        established("vlan-ipv6.pcap", 0, 8),
        Expect {
            version: s12,
            cipher: Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            ended_by: E::Client,
            certificates: 2,
            ..established("download.pcap", 0, 9)
        },
        Expect {
            sni: None,
            offered: &["SSLv2"],
            version: Some("SSLv2"),
            cipher: Some("SSL2_DES_192_EDE3_CBC_WITH_MD5"),
            ended_by: E::Client,
            certificates: 1,
            ..established("sslv2.pcap", 0, 12)
        },
        Expect {
            sni: None,
            offered: &["SSLv2"],
            version: None,
            cipher: None,
            alerts: &[(6, Side::Server, 70)],
            outcome: Outcome::Failed,
            stage: Stage::ClientHello,
            ..established("sslv2-refused.pcap", 0, 6)
        },
        Expect {
            offered: &["TLSv1.3-draft18"],
            version: Some("TLSv1.3-draft18"),
            ..established("tls13-draft18.pcap", 0, 8)
        },
        Expect {
            offered: &["TLSv1.3-draft21"],
            version: Some("TLSv1.3-draft21"),
            ..established("tls13-draft21.pcap", 0, 8)
        },
    ]
}

/// SSLv2 (scapy's peers): the SERVER-HELLO is the ServerHello and the certificate, the
/// CLIENT-MASTER-KEY names the cipher, and both sides' first encrypted records establish it.
#[test]
fn sslv2_handshake_has_its_own_steps_and_warnings() {
    use tlsdiag::connection::{EventKind as K, WarningCode as W};
    let analysis = common::analyze_named("sslv2.pcap");
    let c = common::stream(&analysis, 0);
    let steps: Vec<(u64, K)> = c
        .timeline
        .iter()
        .map(|e| (e.frame, e.event))
        .filter(|(_, k)| !matches!(k, K::Syn | K::SynAck | K::Fin))
        .collect();
    assert_eq!(
        steps,
        [
            (4, K::ClientHello),
            (6, K::ServerHello),
            (6, K::Certificate),
            (8, K::ClientMasterKey),
            (10, K::EncryptedHandshake),
            (12, K::EncryptedHandshake),
        ]
    );
    let subject = c.certificates.first().map(|cert| cert.subject.to_string());
    assert!(
        subject
            .as_deref()
            .is_some_and(|s| s.contains("CN=server.test")),
        "{subject:?}"
    );
    let codes: Vec<W> = c.warnings.iter().map(|w| w.code).collect();
    assert_eq!(
        codes,
        [
            W::LegacyVersion,
            W::WeakCipher,
            W::NoForwardSecrecy,
            W::CertChainIncomplete
        ]
    );
}

fn check(e: &Expect, c: &Connection) {
    let at = format!("{} stream {}", e.file, e.stream);
    assert_eq!(c.sni.as_ref().map(|s| s.as_str()), e.sni, "{at}: sni");
    let offered: Vec<&str> = c.client_versions.iter().collect();
    assert_eq!(offered, e.offered, "{at}: offered versions");
    assert_eq!(c.version, e.version, "{at}: version");
    assert_eq!(c.cipher, e.cipher, "{at}: cipher");
    let alerts: Vec<(u64, Side, u8)> = c
        .alerts
        .iter()
        .filter_map(|a| a.description.map(|d| (a.frame, a.from, d.0)))
        .collect();
    assert_eq!(alerts, e.alerts, "{at}: cleartext alerts");
    let v = &c.verdict;
    assert_eq!(
        (v.outcome, v.stage, v.ended_by, v.frame),
        (e.outcome, e.stage, e.ended_by, e.frame),
        "{at}: verdict ({})",
        v.reason
    );
    assert_eq!(c.certificates.len(), e.certificates, "{at}: certificates");
}

#[test]
fn every_bundled_connection_has_the_expected_facts_and_verdict() {
    let expected = expectations();
    for path in common::all_captures() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let analysis = common::analyze_path(&path).0;
        let mine: Vec<&Expect> = expected.iter().filter(|e| e.file == name).collect();
        if mine.is_empty() {
            // The failure-class captures are checked in diagnosis.rs.
            continue;
        }
        // Every connection of a capture listed here is covered.
        assert_eq!(
            analysis.connections.len(),
            mine.len(),
            "{name}: connections reported"
        );
        for e in mine {
            check(e, common::stream(&analysis, e.stream));
        }
    }
}

#[test]
fn roles_and_resumption_and_plaintext_prefixes() {
    let refused = common::analyze_named("refused.pcap");
    assert_eq!(refused.connections[0].server.map(|s| s.port), Some(443));

    let resumed = common::analyze_named("resumed-tls12.pcap");
    assert_eq!(common::stream(&resumed, 0).resumed, Some(false));
    assert_eq!(common::stream(&resumed, 1).resumed, Some(true));
    assert!(
        common::stream(&resumed, 1).certificates.is_empty(),
        "an abbreviated handshake sends no certificate"
    );

    let resumed13 = common::analyze_named("resumed-tls13.pcap");
    assert_eq!(common::stream(&resumed13, 0).resumed, Some(false));
    let second = common::stream(&resumed13, 1);
    assert_eq!(
        second.resumed,
        Some(true),
        "the server accepted the pre-shared key"
    );
    assert!(second.resumption_offered.psk);

    let smtp = common::analyze_named("starttls-smtp.pcap");
    let c = common::stream(&smtp, 0);
    assert!(
        c.plaintext
            .server
            .as_deref()
            .is_some_and(|p| p.starts_with("220 ")),
        "{:?}",
        c.plaintext
    );
    assert!(
        c.plaintext
            .client
            .as_deref()
            .is_some_and(|p| p.starts_with("EHLO"))
    );

    let tfo = common::analyze_named("tcp-fast-open.pcap");
    let c = common::stream(&tfo, 0);
    let hello_frame = c.facts.client_hello.as_ref().expect("a ClientHello").frame;
    assert_eq!(
        Some(hello_frame),
        c.facts.syn,
        "the ClientHello rode in the SYN"
    );
    assert_eq!(c.alpn_offered, ["h2", "http/1.1"]);

    let alpn = common::analyze_named("tls13-sni-alpn.pcap");
    assert_eq!(common::stream(&alpn, 0).alpn_offered, ["h2", "http/1.1"]);
    assert_eq!(
        common::stream(&alpn, 0).alpn,
        None,
        "TLS 1.3 sends the selected ALPN encrypted"
    );

    let chain = common::analyze_named("tls12-ecdhe-chain.pcap");
    let certs = &common::stream(&chain, 0).certificates;
    assert_eq!(
        certs[0].common_name.as_ref().map(|s| s.as_str()),
        Some("server.test")
    );
    assert_eq!(certs[0].san, ["server.test", "www.server.test"]);
    assert_eq!(
        certs[0].issuer, certs[1].subject,
        "the intermediate issued the leaf"
    );
    assert!(!certs[0].self_signed && !certs[1].self_signed && certs[1].is_ca);

    let one_way = common::analyze_named("one-direction-server-only.pcap");
    let c = common::stream(&one_way, 0);
    assert_eq!(
        c.client.map(|e| e.port),
        Some(46056),
        "the SYN-ACK's receiver is the client"
    );
    assert!(
        c.verdict.reason.contains("no packet from the client"),
        "{}",
        c.verdict.reason
    );
}

#[test]
fn ipv6_behind_a_vlan_tag_reads_like_without_it() {
    let plain = common::analyze_named("ipv6-veth.pcap");
    let tagged = common::analyze_named("vlan-ipv6.pcap");
    let (a, b) = (common::stream(&plain, 0), common::stream(&tagged, 0));
    let server = a.server.expect("a server");
    assert_eq!(
        server.ip,
        "fd00:99::2".parse::<std::net::IpAddr>().expect("ip")
    );
    assert_eq!(
        (a.client, a.server, &a.timeline),
        (b.client, b.server, &b.timeline)
    );
}

#[test]
fn link_types_and_formats_are_read() {
    let (_, any) = common::analyze_path(&common::captures_dir().join("gnutls-tls13-any.pcap"));
    assert_eq!(any.format, Some(tlsdiag::capture::CaptureFormat::Pcap));
    let (analysis, ng) = common::analyze_path(&common::captures_dir().join("tls12-dumpcap.pcapng"));
    assert_eq!(ng.format, Some(tlsdiag::capture::CaptureFormat::Pcapng));
    assert_eq!(analysis.counters.packets, ng.packets);
    assert!(analysis.counters.unknown_link_types.is_empty());

    let (unknown, stats) =
        common::analyze_path(&common::captures_dir().join("unknown-link-type.pcap"));
    assert_eq!(stats.packets, 10);
    assert!(unknown.connections.is_empty());
    assert_eq!(unknown.counters.unknown_link_types.get("USER0"), Some(&10));
}

/// A connection the capture joined after its handshake is settled once past it: its verdict
/// stands, every packet is counted, and its records are read only until then: up to the first
/// application data of both sides, or up to the segment that brings `JOINED_RECORDS` records
/// from one side (a download, whose client sends nothing). Both files are download.pcap
/// joined at the client's request and just after it (captures/generate.sh).
#[test]
fn a_connection_joined_after_its_handshake_is_read_only_until_past_it() {
    use tlsdiag::connection::{Code, JOINED_RECORDS};
    for (name, client_records) in [("joined-request.pcap", 1), ("joined-download.pcap", 0)] {
        let analysis = common::analyze_named(name);
        let c = common::stream(&analysis, 0);
        let code = c.diagnosis.as_ref().map(|d| d.code);
        assert_eq!(code, Some(Code::CaptureStartedLate), "{name}");
        assert_eq!(c.verdict.frame, 1, "{name}");
        // Every packet and payload byte of the file is counted, read or not.
        let mut packets = common::derive::read_packets(&common::captures_dir().join(name));
        let (mut count, mut bytes) = ([0u64; 2], [0u64; 2]);
        for p in &mut packets {
            let tcp = common::derive::Tcp::of(p).expect("IPv4 TCP");
            let from_server = usize::from(tcp.src_port() == 443);
            count[from_server] += 1;
            bytes[from_server] += tcp.payload().len() as u64;
        }
        let (t, records) = (&c.tcp, &c.encrypted_records);
        assert_eq!(
            [t.packets.client, t.packets.server],
            count,
            "{name}: packets"
        );
        assert_eq!(
            [t.payload_bytes.client, t.payload_bytes.server],
            bytes,
            "{name}: payload"
        );
        assert_eq!(
            records.client.count, client_records,
            "{name}: client records"
        );
        let server_records = if client_records > 0 {
            1
        } else {
            u64::from(JOINED_RECORDS)
        };
        assert!(
            records.server.count >= server_records,
            "{name}: server records"
        );
        let Some(per_frame) = tshark_server_records(name) else {
            continue;
        };
        // The records of the server's segments up to the one that settled the connection.
        let mut seen = 0;
        let settled_at = per_frame.iter().position(|&n| {
            seen += n;
            seen >= server_records
        });
        assert!(
            settled_at.is_some(),
            "{name}: the file holds enough records"
        );
        assert_eq!(records.server.count, seen, "{name}: server records read");
        let all: u64 = per_frame.iter().sum();
        assert!(
            all > seen,
            "{name}: records after the settling segment were not read"
        );
    }
}

/// The application-data records of each of the server's segments, by tshark, when it is there.
fn tshark_server_records(name: &str) -> Option<Vec<u64>> {
    if !common::tshark_available() {
        return None;
    }
    let path = common::captures_dir().join(name);
    let filter = "tcp.srcport == 443 && tcp.len > 0";
    let rows = common::tshark(
        &path,
        &Default::default(),
        filter,
        &["tls.record.content_type"],
    );
    Some(
        rows.iter()
            .map(|row| {
                let types = row.first().map_or("", String::as_str);
                types.split(',').filter(|t| t.trim() == "23").count() as u64
            })
            .collect(),
    )
}

/// A client that connects again from the same port while the server still holds its first
/// connection: the server's challenge ACK, the client's RST, then the retransmitted SYN that
/// carries the handshake. tshark numbers the reset attempt and the handshake as one stream;
/// that stream is judged on its handshake, and the reset attempt is remembered.
#[test]
fn a_retry_after_a_reset_is_judged_on_its_handshake() {
    if !common::tshark_available() {
        return;
    }
    let name = "port-reuse.pcap";
    let analysis = common::analyze_named(name);
    let path = common::captures_dir().join(name);
    let frames = |filter: &str| -> Vec<u64> {
        common::tshark(&path, &Default::default(), filter, &["frame.number"])
            .iter()
            .filter_map(|row| row.first()?.parse().ok())
            .collect()
    };
    let syns = frames("tcp.stream == 1 && tcp.flags.syn == 1 && tcp.flags.ack == 0");
    let resets = frames("tcp.stream == 1 && tcp.flags.reset == 1");
    let hello = frames("tcp.stream == 1 && tls.handshake.type == 1");
    assert_eq!((syns.len(), resets.len(), hello.len()), (2, 1, 1));

    let retried = common::stream(&analysis, 1);
    assert_eq!(retried.verdict.outcome, Outcome::Established);
    let frame = retried.facts.client_hello.as_ref().map(|h| h.frame);
    assert_eq!(frame, Some(hello[0]));
    let earlier = retried.facts.earlier_attempt.expect("the reset attempt");
    assert_eq!(
        (earlier.syn, earlier.reset, earlier.retry),
        (syns[0], resets[0], syns[1])
    );
    assert_eq!(earlier.by, Side::Client);
}
