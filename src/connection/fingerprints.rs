//! A connection's JA3 and JA4 (from its first ClientHello) and JA3S and JA4S (from its
//! ServerHello), taken once, when the connection is judged: the hellos' values are in the
//! record by then, and no packet pays for them.

use super::Connection;
use crate::tls::fingerprint::{
    self, ClientFingerprints, ClientValues, ServerFingerprints, ServerValues,
};
use crate::tls::handshake::version;
use crate::wire_text::WireText;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::sync::Arc;

/// The ClientHello's fingerprints, written as `ja3`, `ja3_full`, `ja4` and `ja4_r`: null
/// without a ClientHello, or for one in SSLv2's format, which Wireshark does not fingerprint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientPrints(pub(crate) Option<Arc<ClientFingerprints>>);

/// The ServerHello's fingerprints, written as `ja3s`, `ja3s_full`, `ja4s` and `ja4s_r`:
/// null without a ServerHello (a HelloRetryRequest is not one here, as it is not for the
/// record's `version` and `cipher`) or for an SSLv2 SERVER-HELLO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerPrints(pub(crate) Option<Arc<ServerFingerprints>>);

impl ClientPrints {
    pub fn get(&self) -> Option<&ClientFingerprints> {
        self.0.as_deref()
    }
}

impl ServerPrints {
    pub fn get(&self) -> Option<&ServerFingerprints> {
        self.0.as_deref()
    }
}

impl Connection {
    /// Takes the fingerprints of the hellos the record holds.
    pub(crate) fn fingerprint(&mut self) {
        if let Some(values) = self.client_values() {
            self.client_fingerprints = ClientPrints(Some(fingerprint::client(&values)));
        }
        if let Some(values) = self.server_values() {
            self.server_fingerprints = ServerPrints(Some(fingerprint::server(&values)));
        }
    }

    /// The first ClientHello's values: its lists are in the record's fields, the rest in
    /// the hello kept in `facts`.
    fn client_values(&self) -> Option<ClientValues<'_>> {
        let hello = &self.facts.client_hello.as_ref()?.message;
        if hello.sslv2_format {
            return None;
        }
        Some(ClientValues {
            legacy_version: hello.legacy_version,
            // The legacy version stands in when supported_versions was not sent; JA4 reads
            // the list only when it was.
            supported_versions: self.client_versions.values(),
            cipher_suites: self.cipher_suites.values(),
            extensions: self.client_extensions.values(),
            groups: self.groups.values(),
            ec_point_formats: hello.ec_point_formats.as_slice(),
            signature_algorithms: self.signature_algorithms.values(),
            first_alpn: self.alpn_offered.first().map(WireText::as_bytes),
        })
    }

    fn server_values(&self) -> Option<ServerValues<'_>> {
        let hello = &self.facts.server_hello.as_ref()?.message;
        if hello.legacy_version == version::SSLV2 {
            return None;
        }
        Some(ServerValues {
            legacy_version: hello.legacy_version,
            version: hello.version(),
            cipher: hello.cipher,
            extensions: self.server_extensions.values(),
            alpn: self.alpn.as_ref().map(WireText::as_bytes),
        })
    }
}

impl Serialize for ClientPrints {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let f = self.get();
        let mut s = serializer.serialize_struct("ClientPrints", 4)?;
        s.serialize_field("ja3", &f.map(|f| &f.ja3))?;
        s.serialize_field("ja3_full", &f.map(|f| &f.ja3_full))?;
        s.serialize_field("ja4", &f.map(|f| &f.ja4))?;
        s.serialize_field("ja4_r", &f.map(|f| &f.ja4_r))?;
        s.end()
    }
}

impl Serialize for ServerPrints {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let f = self.get();
        let mut s = serializer.serialize_struct("ServerPrints", 4)?;
        s.serialize_field("ja3s", &f.map(|f| &f.ja3s))?;
        s.serialize_field("ja3s_full", &f.map(|f| &f.ja3s_full))?;
        s.serialize_field("ja4s", &f.map(|f| &f.ja4s))?;
        s.serialize_field("ja4s_r", &f.map(|f| &f.ja4s_r))?;
        s.end()
    }
}
