//! Every capture a user brings: Linux cooked captures of `-i any` whatever the hardware type,
//! tunnels and tags around the IP packet, and a warning instead of a silent empty report.
//! tshark's view of the same files (tcp.stream, ClientHello, ServerHello, alerts) is checked
//! by tshark_agreement.rs, which reads every bundled capture.

mod common;

use std::process::Command;
use tlsdiag::connection::Outcome;

/// The outcomes by tcp.stream and the layers of each connection, as the report spells them.
fn read(name: &str) -> Vec<(u64, Outcome, Option<String>, Vec<String>)> {
    let analysis = common::analyze_named(name);
    assert_eq!(analysis.counters.malformed, 0, "{name}: malformed packets");
    analysis
        .connections
        .iter()
        .map(|c| {
            let layers = c.encapsulation.iter().map(ToString::to_string).collect();
            let sni = c.sni.as_ref().map(|s| s.as_str().to_string());
            (c.tcp_stream, c.verdict.outcome, sni, layers)
        })
        .collect()
}

/// `-i any` on lo by dumpcap (pcapng) and `tcpdump -y LINUX_SLL` (pcap) is SLL v1 with
/// ARPHRD 772 (loopback) in every packet, which etherparse refuses; plain `tcpdump -i any`
/// writes SLL2. All three are read: a TLS 1.3 success and a TLS 1.2-only client refused.
#[test]
fn cooked_captures_of_any_are_read_whatever_the_hardware_type() {
    for name in [
        "sll-any-dumpcap.pcapng",
        "sll-any-tcpdump.pcap",
        "sll2-any-tcpdump.pcap",
    ] {
        let conns = read(name);
        assert_eq!(conns.len(), 2, "{name}: {conns:?}");
        let sni = Some("server.test".to_string());
        for (_, _, conn_sni, layers) in &conns {
            assert_eq!(conn_sni, &sni, "{name}");
            assert!(layers.is_empty(), "{name}: {layers:?}");
        }
        let failed = conns.iter().filter(|c| c.1 == Outcome::Failed).count();
        assert_eq!(failed, 1, "{name}: {conns:?}");
    }
}

/// A real VXLAN tunnel between two namespaces: connections are numbered by their inner
/// 4-tuple, and each names the outer IP header and the VNI.
#[test]
fn a_real_vxlan_tunnel_is_read_through() {
    let conns = read("vxlan.pcap");
    assert_eq!(conns.len(), 2, "{conns:?}");
    for (stream, outcome, sni, layers) in &conns {
        assert_eq!(*outcome, Outcome::Established, "stream {stream}");
        assert_eq!(sni.as_deref(), Some("server.test"));
        assert_eq!(
            layers,
            &["ipv4 198.18.5.1>198.18.5.2", "vxlan 4242"],
            "stream {stream}"
        );
    }
}

/// Real captures wrapped by rewrap.py in what this kernel cannot make: the same connection
/// and verdict as the unwrapped file, with the layers named outermost first.
#[test]
fn rewrapped_captures_give_the_unwrapped_verdicts_and_name_their_layers() {
    let plain = read("tls13-sni-alpn.pcap");
    let plain_v6 = read("ipv6-veth.pcap");
    // The client's first packet goes from the client (.1 or .2, as the inner addresses sort).
    let cases: [(&str, &[&str]); 10] = [
        (
            "wrapped-gre.pcap",
            &["ipv4 198.18.7.2>198.18.7.1", "gre key 77"],
        ),
        (
            "wrapped-gretap.pcap",
            &["ipv4 198.18.7.2>198.18.7.1", "gre key 5"],
        ),
        (
            "wrapped-erspan2.pcap",
            &["ipv4 198.18.7.2>198.18.7.1", "gre", "erspan2 12"],
        ),
        (
            "wrapped-erspan3.pcap",
            &["ipv4 198.18.7.2>198.18.7.1", "gre", "erspan3 13"],
        ),
        (
            "wrapped-geneve.pcap",
            &["ipv4 198.18.7.2>198.18.7.1", "geneve 4242"],
        ),
        ("wrapped-ipip.pcap", &["ipv4 198.18.7.2>198.18.7.1"]),
        ("wrapped-mpls.pcap", &["mpls 1001"]),
        ("wrapped-pppoe.pcap", &["pppoe 4660"]),
        ("wrapped-qinq.pcap", &["vlan 200", "vlan 100"]),
        ("wrapped-sit.pcap", &["ipv4 198.18.7.1>198.18.7.2"]),
    ];
    for (name, expected) in cases {
        let conns = read(name);
        let base = if name == "wrapped-sit.pcap" {
            &plain_v6
        } else {
            &plain
        };
        assert_eq!(conns.len(), base.len(), "{name}");
        for (wrapped, plain) in conns.iter().zip(base) {
            assert_eq!(
                (wrapped.0, wrapped.1, &wrapped.2),
                (plain.0, plain.1, &plain.2),
                "{name}"
            );
            assert_eq!(wrapped.3, expected, "{name}");
        }
    }
}

/// A file whose packets yield no connection says why, in the text report, on stderr and in
/// the JSON summary, and the run still succeeds (the file was read to its end).
#[test]
fn a_file_without_a_readable_packet_says_why() {
    let run = |format: &str| {
        Command::new(env!("CARGO_BIN_EXE_tlsdiag"))
            .args([
                "analyze",
                "--format",
                format,
                "captures/unknown-link-type.pcap",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("tlsdiag runs")
    };
    let text = run("text");
    assert!(text.status.success());
    let why = "10 packets but not one TCP segment read: 10 unsupported link type USER0";
    let stdout = String::from_utf8_lossy(&text.stdout);
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(stdout.contains(why), "{stdout}");
    assert!(stderr.contains(why), "{stderr}");
    let json = run("json");
    assert!(json.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(doc["summary"]["files"][0]["warning"], why);
    // A file read whole gets no warning.
    let plain = common::analyze_named("tls13-sni-alpn.pcap");
    assert!(plain.counters.skip_reasons.is_empty());
}

/// Non-TCP packets are counted by reason, and the UDP of a VXLAN capture's neighbours (ARP,
/// ICMPv6 from the namespaces coming up) is named, not lumped together.
#[test]
fn skipped_packets_are_counted_by_reason() {
    let analysis = common::analyze_named("vxlan.pcap");
    let reasons: Vec<String> = analysis
        .counters
        .skip_reasons
        .keys()
        .map(ToString::to_string)
        .collect();
    assert!(
        reasons.iter().any(|r| r == "EtherType 0x0806 (ARP)"),
        "{reasons:?}"
    );
    let total: u64 = analysis.counters.skip_reasons.values().sum();
    assert_eq!(
        total,
        analysis.counters.skipped + analysis.counters.malformed
    );
}

/// The real VXLAN tunnel at MTU 1500 over a 1500 underlay: the kernel fragmented the outer
/// datagrams of the client's 2.7 KB ClientHello and of the server's first flight. Reassembled,
/// the connection reads as any other: its SNI, its verdict, its layers, and no warning.
#[test]
fn a_client_hello_in_fragmented_vxlan_datagrams_is_read() {
    let conns = read("vxlan-fragmented.pcap");
    assert_eq!(conns.len(), 1, "{conns:?}");
    let (_, outcome, sni, layers) = &conns[0];
    assert_eq!(*outcome, Outcome::Established);
    assert_eq!(sni.as_deref(), Some("server.test"));
    assert_eq!(layers, &["ipv4 198.18.5.1>198.18.5.2", "vxlan 4243"]);
    let analysis = common::analyze_named("vxlan-fragmented.pcap");
    let c = &analysis.counters;
    assert_eq!(c.unread(), 0, "{:?}", c.skip_reasons);
    let dropped =
        c.ip_fragments_over_limit + c.ip_fragments_timed_out + c.ip_fragments_inconsistent;
    assert_eq!(dropped, 0);
    if !common::tshark_available() {
        return;
    }
    // tshark's count of fragments, and of the datagrams they were reassembled into.
    let path = common::captures_dir().join("vxlan-fragmented.pcap");
    let ports = Default::default();
    let fragments = common::tshark(
        &path,
        &ports,
        "ip.flags.mf == 1 || ip.frag_offset > 0",
        &["frame.number"],
    );
    let datagrams = common::tshark(&path, &ports, "ip.fragments", &["frame.number"]);
    assert_eq!(c.ip_fragments, fragments.len() as u64, "{fragments:?}");
    assert_eq!(
        c.ip_datagrams_reassembled,
        datagrams.len() as u64,
        "{datagrams:?}"
    );
    assert!(c.ip_datagrams_reassembled >= 2);
}
