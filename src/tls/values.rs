//! TLS wire values as types: a newtype per registry, with named constants for the values the
//! rules compare, and one way from a value to its name (`name`, IANA's spelling from
//! `names`). Logic compares values; reports spell names.

use super::names;
use serde::Serialize;

macro_rules! named_value {
    ($(#[$doc:meta])* $name:ident($ty:ty) named by $namer:path) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub $ty);

        impl $name {
            pub fn name(self) -> &'static str {
                $namer(self.0)
            }
        }

        /// As its name, as every report spells it.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.name())
            }
        }
    };
}

named_value! {
    /// RFC 8446 6: warning or fatal.
    AlertLevel(u8) named by names::alert_level_name
}

impl AlertLevel {
    pub(crate) const WARNING: AlertLevel = AlertLevel(1);
    pub(crate) const FATAL: AlertLevel = AlertLevel(2);
}

named_value! {
    /// RFC 8446 6 and the TLS Alerts registry.
    AlertDescription(u8) named by names::alert_description_name
}

impl AlertDescription {
    pub(crate) const CLOSE_NOTIFY: Self = Self(0);
    pub(crate) const UNEXPECTED_MESSAGE: Self = Self(10);
    pub(crate) const BAD_RECORD_MAC: Self = Self(20);
    pub(crate) const HANDSHAKE_FAILURE: Self = Self(40);
    pub(crate) const BAD_CERTIFICATE: Self = Self(42);
    pub(crate) const UNSUPPORTED_CERTIFICATE: Self = Self(43);
    pub(crate) const CERTIFICATE_REVOKED: Self = Self(44);
    pub(crate) const CERTIFICATE_EXPIRED: Self = Self(45);
    pub(crate) const CERTIFICATE_UNKNOWN: Self = Self(46);
    pub(crate) const ILLEGAL_PARAMETER: Self = Self(47);
    pub(crate) const UNKNOWN_CA: Self = Self(48);
    pub(crate) const ACCESS_DENIED: Self = Self(49);
    pub(crate) const DECODE_ERROR: Self = Self(50);
    pub(crate) const DECRYPT_ERROR: Self = Self(51);
    pub(crate) const PROTOCOL_VERSION: Self = Self(70);
    pub(crate) const INSUFFICIENT_SECURITY: Self = Self(71);
    pub(crate) const INAPPROPRIATE_FALLBACK: Self = Self(86);
    pub(crate) const UNRECOGNIZED_NAME: Self = Self(112);
    pub(crate) const CERTIFICATE_REQUIRED: Self = Self(116);
    pub(crate) const NO_APPLICATION_PROTOCOL: Self = Self(120);

    /// The alerts about a certificate (RFC 8446 6.2).
    pub(crate) fn is_about_a_certificate(self) -> bool {
        matches!(
            self,
            Self::BAD_CERTIFICATE
                | Self::UNSUPPORTED_CERTIFICATE
                | Self::CERTIFICATE_REVOKED
                | Self::CERTIFICATE_EXPIRED
                | Self::CERTIFICATE_UNKNOWN
                | Self::UNKNOWN_CA
                | Self::ACCESS_DENIED
        )
    }
}

/// An alert as the reports write it: "fatal unknown_ca (48)".
pub(crate) struct AlertText(pub AlertLevel, pub AlertDescription);

impl std::fmt::Display for AlertText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let AlertText(level, description) = self;
        write!(
            f,
            "{} {} ({})",
            level.name(),
            description.name(),
            description.0
        )
    }
}

named_value! {
    /// A protocol version as the hellos carry it (SSLv2's 0x0002 included).
    ProtocolVersion(u16) named by names::version_name
}

impl ProtocolVersion {
    pub(crate) const TLS13: Self = Self(super::handshake::version::TLS13);
}

named_value! {
    /// The TLS Cipher Suites registry.
    CipherSuite(u16) named by names::cipher_suite_name
}

impl CipherSuite {
    /// RFC 7507: the client retries at a lower version than it supports.
    pub(crate) const TLS_FALLBACK_SCSV: Self = Self(0x5600);
    /// The one TLS 1.3 suite whose hash (SHA-384) is not 32 bytes long.
    pub(crate) const TLS_AES_256_GCM_SHA384: Self = Self(0x1302);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_have_one_name() {
        assert_eq!(AlertLevel::FATAL.name(), "fatal");
        assert_eq!(AlertDescription::UNKNOWN_CA.name(), "unknown_ca");
        assert_eq!(ProtocolVersion::TLS13.name(), "TLSv1.3");
        assert_eq!(CipherSuite::TLS_FALLBACK_SCSV.name(), "TLS_FALLBACK_SCSV");
        let json = serde_json::to_string(&AlertDescription::PROTOCOL_VERSION).unwrap_or_default();
        assert_eq!(json, "\"protocol_version\"");
        assert!(AlertDescription::CERTIFICATE_EXPIRED.is_about_a_certificate());
        assert!(!AlertDescription::HANDSHAKE_FAILURE.is_about_a_certificate());
    }
}
