//! Weaknesses of connections that did establish: old versions, weak suites, certificates the
//! client accepted anyway, slow servers.

use super::{DiagnoseOptions, certificates, ms_between, side_word, timestamp_at};
use crate::connection::{Connection, Evidence, Warning, WarningCode};
use crate::connection::{Hello, MasterKey};
use crate::tls::handshake::version;
use crate::tls::names;

pub(crate) fn of(conn: &Connection, options: &DiagnoseOptions) -> Vec<Warning> {
    let mut out = Vec::new();
    let sh_frame = conn.facts.server_hello.as_ref().map(|h| h.frame);
    let warn = |out: &mut Vec<Warning>, code, summary: String, frame: Option<u64>| {
        out.push(Warning {
            code,
            summary: summary.clone(),
            evidence: vec![Evidence {
                frame,
                fact: summary,
            }],
        });
    };
    if let Some(Hello { message: sh, .. }) = &conn.facts.server_hello {
        if sh.version() < version::TLS12 {
            // SSLv2 was prohibited long before TLS 1.0 and 1.1 were deprecated.
            let rfc = if sh.version() == version::SSLV2 {
                "prohibited (RFC 6176)"
            } else {
                "deprecated (RFC 8996)"
            };
            warn(
                &mut out,
                WarningCode::LegacyVersion,
                format!(
                    "{} is {rfc}: use TLS 1.2 or 1.3",
                    names::version_name(sh.version())
                ),
                sh_frame,
            );
        }
        if let Some(MasterKey { frame, cipher }) = conn.facts.sslv2_master_key {
            let name = names::sslv2_cipher_name(cipher);
            let weak = names::sslv2_cipher_weakness(cipher);
            let summary = format!("{name} uses {weak}");
            warn(&mut out, WarningCode::WeakCipher, summary, Some(frame));
            let summary = format!(
                "{name} has no forward secrecy: a stolen server key decrypts recorded traffic"
            );
            warn(
                &mut out,
                WarningCode::NoForwardSecrecy,
                summary,
                Some(frame),
            );
        } else if sh.version() == version::SSLV2 {
            // No cipher was chosen yet; SSLv2 has no TLS suite to judge.
        } else if let Some(facts) = names::cipher_facts(sh.cipher) {
            if let Some(weak) = facts.weak {
                warn(
                    &mut out,
                    WarningCode::WeakCipher,
                    format!("{} uses {weak}", names::cipher_suite_name(sh.cipher)),
                    sh_frame,
                );
            }
            if !facts.forward_secret {
                warn(
                    &mut out,
                    WarningCode::NoForwardSecrecy,
                    format!(
                        "{} has no forward secrecy: a stolen server key decrypts recorded traffic",
                        names::cipher_suite_name(sh.cipher)
                    ),
                    sh_frame,
                );
            }
        }
    }
    let cert_frame = conn.facts.server_certificate.map(|s| s.frame);
    for finding in certificates::findings(conn) {
        warn(
            &mut out,
            finding.warning,
            format!("accepted anyway: {}", finding.text),
            cert_frame,
        );
    }
    slow(conn, options, &mut out);
    if let Some(hit) = conn.facts.limit {
        warn(
            &mut out,
            WarningCode::LimitReached,
            format!(
                "tlsdiag stopped reading the {}'s stream at frame {}: {}",
                side_word(hit.side),
                hit.frame,
                hit.limit.words()
            ),
            Some(hit.frame),
        );
    }
    if conn.facts.certificates_over_limit > 0 {
        warn(
            &mut out,
            WarningCode::LimitReached,
            format!(
                "{} certificates were not decoded: beyond --max-chain or over --max-certificate",
                conn.facts.certificates_over_limit
            ),
            cert_frame,
        );
    }
    out
}

fn slow(conn: &Connection, options: &DiagnoseOptions, out: &mut Vec<Warning>) {
    let (Some(ch), Some(sh)) = (conn.facts.client_hello_ts, conn.facts.server_hello_ts) else {
        return;
    };
    let think = ms_between(ch, sh);
    let total =
        ms_between(conn.facts.start_ts, ch) + ms_between(ch, established_ts(conn).unwrap_or(sh));
    let limit = options.slow_handshake_ms;
    if think > limit || total > limit {
        let summary = format!(
            "slow handshake: the server took {think:.1} ms from ClientHello to ServerHello, \
            {total:.1} ms from the first packet to completion (threshold {limit} ms)"
        );
        out.push(Warning {
            code: WarningCode::SlowHandshake,
            summary: summary.clone(),
            evidence: vec![
                Evidence {
                    frame: conn.facts.client_hello.as_ref().map(|h| h.frame),
                    fact: "ClientHello sent".into(),
                },
                Evidence {
                    frame: conn.facts.server_hello.as_ref().map(|h| h.frame),
                    fact: format!("ServerHello {think:.1} ms later"),
                },
            ],
        });
    }
}

/// The time of the frame at which the handshake completed.
fn established_ts(conn: &Connection) -> Option<crate::capture::Timestamp> {
    let frame = conn.facts.established_at?;
    let offset = conn.timeline.iter().find(|e| e.frame == frame)?.time;
    Some(timestamp_at(conn, offset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::tests_support::connection;

    fn codes(file: &str, options: &DiagnoseOptions) -> Vec<WarningCode> {
        of(&connection(file, 0), options)
            .iter()
            .map(|w| w.code)
            .collect()
    }

    #[test]
    fn an_old_version_and_a_static_rsa_suite_are_warned_about() {
        let defaults = DiagnoseOptions::default();
        assert_eq!(
            codes("legacy-tls10-rsa.pcap", &defaults),
            [WarningCode::LegacyVersion, WarningCode::NoForwardSecrecy]
        );
        assert_eq!(
            codes("sslv2.pcap", &defaults),
            [
                WarningCode::LegacyVersion,
                WarningCode::WeakCipher,
                WarningCode::NoForwardSecrecy,
                WarningCode::CertChainIncomplete
            ]
        );
        assert!(codes("tls13-sni-alpn.pcap", &defaults).is_empty());
    }

    #[test]
    fn a_handshake_over_the_threshold_is_slow() {
        let strict = DiagnoseOptions {
            slow_handshake_ms: 0.0,
        };
        assert_eq!(
            codes("tls13-sni-alpn.pcap", &strict),
            [WarningCode::SlowHandshake]
        );
        let mut out = Vec::new();
        slow(
            &connection("tls13-sni-alpn.pcap", 0),
            &DiagnoseOptions::default(),
            &mut out,
        );
        assert!(out.is_empty());
    }
}
