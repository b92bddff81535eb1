//! The negotiated version and cipher suite, read once into what key derivation and record
//! protection need: the AEAD or the CBC cipher and MAC, and the hash of the key schedule,
//! PRF and transcript.
//!
//! Suites come from tls-parser's IANA table (`TlsCipherSuite::from_id`) rather than a table
//! of our own; the one thing it does not tell, CCM's 8-byte tag, is in the IANA name.

use super::DecryptError;
use crate::tls::values::{CipherSuite, ProtocolVersion};
use tls_parser::{
    TlsCipherEnc, TlsCipherEncMode, TlsCipherKx, TlsCipherMac, TlsCipherSuite, TlsPRF,
};

/// A version and cipher suite this module can decrypt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suite {
    id: CipherSuite,
    pub(super) version: Version,
    pub(super) protection: Protection,
    pub(super) hash: HashAlg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Version {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Protection {
    Aead(AeadAlg),
    /// MAC-then-encrypt, or encrypt-then-MAC when RFC 7366 was negotiated.
    Cbc {
        cipher: BlockAlg,
        mac: MacAlg,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AeadAlg {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128Ccm,
    Aes128Ccm8,
    Aes256Ccm,
    Aes256Ccm8,
}

impl AeadAlg {
    pub(super) fn key_len(self) -> usize {
        match self {
            AeadAlg::Aes128Gcm | AeadAlg::Aes128Ccm | AeadAlg::Aes128Ccm8 => 16,
            AeadAlg::Aes256Gcm
            | AeadAlg::ChaCha20Poly1305
            | AeadAlg::Aes256Ccm
            | AeadAlg::Aes256Ccm8 => 32,
        }
    }

    /// TLS 1.2's implicit part of the nonce from the key block: a 4-byte salt for GCM
    /// (RFC 5288) and CCM (RFC 6655), the whole 12-byte IV for ChaCha20 (RFC 7905).
    pub(super) fn tls12_fixed_iv_len(self) -> usize {
        match self {
            AeadAlg::ChaCha20Poly1305 => 12,
            _ => 4,
        }
    }

    /// TLS 1.2's explicit nonce sent before each record's ciphertext: none for ChaCha20.
    pub(super) fn tls12_explicit_nonce_len(self) -> usize {
        match self {
            AeadAlg::ChaCha20Poly1305 => 0,
            _ => 8,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BlockAlg {
    Aes128,
    Aes256,
}

impl BlockAlg {
    pub(super) fn key_len(self) -> usize {
        match self {
            BlockAlg::Aes128 => 16,
            BlockAlg::Aes256 => 32,
        }
    }
}

/// The HMAC of a CBC suite's records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MacAlg {
    Sha1,
    Sha256,
    Sha384,
}

impl MacAlg {
    pub(super) fn len(self) -> usize {
        match self {
            MacAlg::Sha1 => 20,
            MacAlg::Sha256 => 32,
            MacAlg::Sha384 => 48,
        }
    }
}

/// The hash of the key schedule (TLS 1.3), of the PRF (TLS 1.2: SHA-256 unless the suite
/// says SHA-384; TLS 1.0 and 1.1: MD5 and SHA-1 together), and of the transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HashAlg {
    Sha256,
    Sha384,
    Md5Sha1,
}

impl HashAlg {
    pub(super) fn len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Md5Sha1 => 36,
        }
    }
}

impl Suite {
    /// The suite `id` as negotiated at `version` (the ServerHello's: supported_versions
    /// when present, else its legacy version). TLS 1.0 to 1.3; not SSL 3.0, not DTLS.
    pub fn new(version: ProtocolVersion, id: CipherSuite) -> Result<Suite, DecryptError> {
        let version = match version.0 {
            0x0301 => Version::Tls10,
            0x0302 => Version::Tls11,
            0x0303 => Version::Tls12,
            0x0304 => Version::Tls13,
            _ => return Err(DecryptError::UnsupportedVersion(version)),
        };
        let unsupported = DecryptError::UnsupportedSuite(id);
        let entry = TlsCipherSuite::from_id(id.0).ok_or(unsupported)?;
        // A TLS 1.3 suite names no key exchange; it is never valid below 1.3, nor the
        // others at 1.3.
        if (entry.kx == TlsCipherKx::Tls13) != (version == Version::Tls13) {
            return Err(unsupported);
        }
        let protection = if entry.mac == TlsCipherMac::Aead {
            // AEAD records exist from TLS 1.2 on (RFC 5246 6.2.3.3).
            if version < Version::Tls12 {
                return Err(unsupported);
            }
            Protection::Aead(aead_alg(entry).ok_or(unsupported)?)
        } else {
            cbc(entry).ok_or(unsupported)?
        };
        let hash = match (version, entry.prf) {
            (Version::Tls10 | Version::Tls11, _) => HashAlg::Md5Sha1,
            (_, TlsPRF::Sha384) => HashAlg::Sha384,
            (_, TlsPRF::Default | TlsPRF::Sha256) => HashAlg::Sha256,
            _ => return Err(unsupported),
        };
        Ok(Suite {
            id,
            version,
            protection,
            hash,
        })
    }

    pub fn id(&self) -> CipherSuite {
        self.id
    }

    pub fn version(&self) -> ProtocolVersion {
        ProtocolVersion(match self.version {
            Version::Tls10 => 0x0301,
            Version::Tls11 => 0x0302,
            Version::Tls12 => 0x0303,
            Version::Tls13 => 0x0304,
        })
    }

    pub fn is_tls13(&self) -> bool {
        self.version == Version::Tls13
    }

    /// Whether encrypt_then_mac (RFC 7366) changes this suite's records: only CBC's.
    pub fn is_cbc(&self) -> bool {
        matches!(self.protection, Protection::Cbc { .. })
    }
}

fn aead_alg(entry: &TlsCipherSuite) -> Option<AeadAlg> {
    let short_tag = entry.name.ends_with("_CCM_8") || entry.name.ends_with("_CCM_8_SHA256");
    Some(match (entry.enc, entry.enc_mode, entry.enc_size) {
        (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 128) => AeadAlg::Aes128Gcm,
        (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 256) => AeadAlg::Aes256Gcm,
        // The table gives ChaCha20 no mode and a size that is not its key's.
        (TlsCipherEnc::Chacha20_Poly1305, _, _) => AeadAlg::ChaCha20Poly1305,
        (TlsCipherEnc::Aes, TlsCipherEncMode::Ccm, 128) if short_tag => AeadAlg::Aes128Ccm8,
        (TlsCipherEnc::Aes, TlsCipherEncMode::Ccm, 128) => AeadAlg::Aes128Ccm,
        (TlsCipherEnc::Aes, TlsCipherEncMode::Ccm, 256) if short_tag => AeadAlg::Aes256Ccm8,
        (TlsCipherEnc::Aes, TlsCipherEncMode::Ccm, 256) => AeadAlg::Aes256Ccm,
        _ => return None,
    })
}

fn cbc(entry: &TlsCipherSuite) -> Option<Protection> {
    let cipher = match (entry.enc, entry.enc_mode, entry.enc_size) {
        (TlsCipherEnc::Aes, TlsCipherEncMode::Cbc, 128) => BlockAlg::Aes128,
        (TlsCipherEnc::Aes, TlsCipherEncMode::Cbc, 256) => BlockAlg::Aes256,
        _ => return None,
    };
    let mac = match entry.mac {
        TlsCipherMac::HmacSha1 => MacAlg::Sha1,
        TlsCipherMac::HmacSha256 => MacAlg::Sha256,
        TlsCipherMac::HmacSha384 => MacAlg::Sha384,
        _ => return None,
    };
    Some(Protection::Cbc { cipher, mac })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(version: u16, id: u16) -> Result<Suite, DecryptError> {
        Suite::new(ProtocolVersion(version), CipherSuite(id))
    }

    #[test]
    fn tls13_suites() {
        let cases = [
            (0x1301, AeadAlg::Aes128Gcm, HashAlg::Sha256),
            (0x1302, AeadAlg::Aes256Gcm, HashAlg::Sha384),
            (0x1303, AeadAlg::ChaCha20Poly1305, HashAlg::Sha256),
            (0x1304, AeadAlg::Aes128Ccm, HashAlg::Sha256),
            (0x1305, AeadAlg::Aes128Ccm8, HashAlg::Sha256),
        ];
        for (id, aead, hash) in cases {
            let s = suite(0x0304, id).unwrap();
            assert_eq!(s.protection, Protection::Aead(aead), "{id:#06x}");
            assert_eq!(s.hash, hash, "{id:#06x}");
            assert!(s.is_tls13());
        }
    }

    #[test]
    fn tls12_suites() {
        let aead = |a| Protection::Aead(a);
        let cbc = |cipher, mac| Protection::Cbc { cipher, mac };
        let cases = [
            (0xc02f, aead(AeadAlg::Aes128Gcm), HashAlg::Sha256),
            (0xc030, aead(AeadAlg::Aes256Gcm), HashAlg::Sha384),
            (0xcca8, aead(AeadAlg::ChaCha20Poly1305), HashAlg::Sha256),
            (0xc09c, aead(AeadAlg::Aes128Ccm), HashAlg::Sha256),
            (0xc0a1, aead(AeadAlg::Aes256Ccm8), HashAlg::Sha256),
            (0xc0ae, aead(AeadAlg::Aes128Ccm8), HashAlg::Sha256),
            (0xc013, cbc(BlockAlg::Aes128, MacAlg::Sha1), HashAlg::Sha256),
            (
                0x003d,
                cbc(BlockAlg::Aes256, MacAlg::Sha256),
                HashAlg::Sha256,
            ),
            (
                0xc028,
                cbc(BlockAlg::Aes256, MacAlg::Sha384),
                HashAlg::Sha384,
            ),
        ];
        for (id, protection, hash) in cases {
            let s = suite(0x0303, id).unwrap();
            assert_eq!((s.protection, s.hash), (protection, hash), "{id:#06x}");
        }
        let old = suite(0x0301, 0xc013).unwrap();
        assert_eq!(old.hash, HashAlg::Md5Sha1);
        assert_eq!(old.version(), ProtocolVersion(0x0301));
    }

    #[test]
    fn what_is_not_decrypted_says_why() {
        use DecryptError::*;
        assert_eq!(
            suite(0x0300, 0xc013),
            Err(UnsupportedVersion(ProtocolVersion(0x0300)))
        );
        assert_eq!(
            suite(0xfeff, 0xc02f),
            Err(UnsupportedVersion(ProtocolVersion(0xfeff)))
        );
        // 3DES, RC4, NULL, ARIA, an unassigned number.
        for id in [0x000a, 0x0005, 0x0002, 0xc050, 0x1306, 0xeeee] {
            assert_eq!(
                suite(0x0303, id),
                Err(UnsupportedSuite(CipherSuite(id))),
                "{id:#06x}"
            );
        }
        // Suites of one version at another.
        assert_eq!(
            suite(0x0303, 0x1301),
            Err(UnsupportedSuite(CipherSuite(0x1301)))
        );
        assert_eq!(
            suite(0x0304, 0xc02f),
            Err(UnsupportedSuite(CipherSuite(0xc02f)))
        );
        assert_eq!(
            suite(0x0302, 0xc02f),
            Err(UnsupportedSuite(CipherSuite(0xc02f)))
        );
    }
}
