//! TLS 1.2, 1.1 and 1.0 keys from a master secret: the PRF (RFC 5246 5; RFC 2246 5 for
//! MD5 and SHA-1 together), the key block (RFC 5246 6.3) and the Finished's verify_data
//! (RFC 5246 7.4.9).
//!
//! The key log gives the master secret (CLIENT_RANDOM), so neither the key exchange nor the
//! extended master secret (RFC 7627) is computed here. P_hash is written over the `hmac`
//! crate; it is the PRF's construction, not a primitive.

use super::suite::{HashAlg, Protection, Suite, Version};
use super::{DecryptError, HmacHash, hmac};

/// A master secret's length (RFC 5246 8.1).
pub(super) const MASTER_SECRET_LEN: usize = 48;
/// verify_data's length for every suite this module reads (RFC 5246 7.4.9).
pub const VERIFY_DATA_LEN: usize = 12;

/// Who sent a message: the Finished labels and the key block's halves depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    Client,
    Server,
}

/// PRF(secret, label, seed) into `out`: P_SHA256 or P_SHA384 at TLS 1.2, P_MD5 XOR P_SHA1
/// over the two halves of the secret at TLS 1.0 and 1.1.
pub(super) fn prf(
    hash: HashAlg,
    secret: &[u8],
    label: &[u8],
    seed: &[&[u8]],
    out: &mut [u8],
) -> Result<(), DecryptError> {
    match hash {
        HashAlg::Sha256 => p_hash(HmacHash::Sha256, secret, label, seed, out),
        HashAlg::Sha384 => p_hash(HmacHash::Sha384, secret, label, seed, out),
        HashAlg::Md5Sha1 => {
            // S1 and S2 share the middle byte of an odd-length secret (RFC 2246 5).
            let half = secret.len().div_ceil(2);
            let s1 = secret.get(..half).unwrap_or_default();
            let s2 = secret.get(secret.len() - half..).unwrap_or_default();
            let mut sha1 = vec![0u8; out.len()];
            p_hash(HmacHash::Md5, s1, label, seed, out)?;
            p_hash(HmacHash::Sha1, s2, label, seed, &mut sha1)?;
            for (o, s) in out.iter_mut().zip(sha1) {
                *o ^= s;
            }
            Ok(())
        }
    }
}

/// P_hash (RFC 5246 5): A(0) = label + seed, A(i) = HMAC(secret, A(i-1)), and the output
/// is HMAC(secret, A(1) + label + seed) + HMAC(secret, A(2) + label + seed) + ... .
fn p_hash(
    hash: HmacHash,
    secret: &[u8],
    label: &[u8],
    seed: &[&[u8]],
    out: &mut [u8],
) -> Result<(), DecryptError> {
    let mut label_seed: Vec<&[u8]> = Vec::with_capacity(seed.len() + 1);
    label_seed.push(label);
    label_seed.extend_from_slice(seed);
    let mut a = hmac(hash, secret, &label_seed)?;
    let mut filled = 0;
    while filled < out.len() {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(label_seed.len() + 1);
        parts.push(&a);
        parts.extend_from_slice(&label_seed);
        let block = hmac(hash, secret, &parts)?;
        for (o, b) in out.iter_mut().skip(filled).zip(&block) {
            *o = *b;
        }
        filled += block.len();
        a = hmac(hash, secret, &[&a])?;
    }
    Ok(())
}

/// One direction's keys from the key block.
#[derive(Default)]
pub(super) struct DirectionKeys {
    pub(super) mac_key: Vec<u8>,
    pub(super) key: Vec<u8>,
    /// The AEAD's fixed IV, or TLS 1.0 CBC's first IV; empty otherwise.
    pub(super) iv: Vec<u8>,
}

/// key_block = PRF(master_secret, "key expansion", server_random + client_random), cut into
/// the client's and the server's MAC keys, then keys, then IVs (RFC 5246 6.3).
pub(super) fn key_block(
    suite: &Suite,
    master_secret: &[u8],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Result<(DirectionKeys, DirectionKeys), DecryptError> {
    check_master_secret(suite, master_secret)?;
    let (mac_len, key_len, iv_len) = match suite.protection {
        Protection::Aead(aead) => (0, aead.key_len(), aead.tls12_fixed_iv_len()),
        // TLS 1.1 and 1.2 send each record's IV; TLS 1.0 takes the first from here.
        Protection::Cbc { cipher, mac } if suite.version == Version::Tls10 => {
            (mac.len(), cipher.key_len(), 16)
        }
        Protection::Cbc { cipher, mac } => (mac.len(), cipher.key_len(), 0),
    };
    let mut block = vec![0u8; 2 * (mac_len + key_len + iv_len)];
    prf(
        suite.hash,
        master_secret,
        b"key expansion",
        &[server_random, client_random],
        &mut block,
    )?;
    let mut rest = block.as_slice();
    let mut take = |n: usize| {
        let (head, tail) = rest.split_at_checked(n).unwrap_or((rest, &[]));
        rest = tail;
        head.to_vec()
    };
    let mut client = DirectionKeys::default();
    let mut server = DirectionKeys::default();
    client.mac_key = take(mac_len);
    server.mac_key = take(mac_len);
    client.key = take(key_len);
    server.key = take(key_len);
    client.iv = take(iv_len);
    server.iv = take(iv_len);
    Ok((client, server))
}

fn check_master_secret(suite: &Suite, master_secret: &[u8]) -> Result<(), DecryptError> {
    if suite.is_tls13() {
        return Err(DecryptError::UnsupportedSuite(suite.id()));
    }
    if master_secret.len() != MASTER_SECRET_LEN {
        return Err(DecryptError::SecretLength {
            expected: MASTER_SECRET_LEN,
            got: master_secret.len(),
        });
    }
    Ok(())
}

/// A TLS 1.0 to 1.2 Finished's verify_data (RFC 5246 7.4.9): PRF(master_secret, "client
/// finished" or "server finished", transcript hash) cut to 12 bytes, where the transcript
/// hash covers the handshake up to, not including, this Finished (`Transcript::hash`).
pub fn verify_data(
    suite: &Suite,
    master_secret: &[u8],
    sender: Sender,
    transcript_hash: &[u8],
) -> Result<[u8; VERIFY_DATA_LEN], DecryptError> {
    check_master_secret(suite, master_secret)?;
    let label: &[u8] = match sender {
        Sender::Client => b"client finished",
        Sender::Server => b"server finished",
    };
    let mut out = [0u8; VERIFY_DATA_LEN];
    prf(
        suite.hash,
        master_secret,
        label,
        &[transcript_hash],
        &mut out,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::values::{CipherSuite, ProtocolVersion};

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The TLS 1.2 PRF test vector (SHA-256) that the IETF TLS list circulated for
    /// RFC 5246, as Wireshark's and other stacks' unit tests carry it.
    #[test]
    fn p_sha256_matches_the_published_vector() {
        let secret = unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let mut out = [0u8; 100];
        prf(HashAlg::Sha256, &secret, b"test label", &[&seed], &mut out).unwrap();
        let expected = unhex(
            "e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53 c2 aa b2 1d 07 c3 d4 95 32 9b 52 d4
             e6 1e db 5a 6b 30 17 91 e9 0d 35 c9 c9 a4 6b 4e 14 ba f9 af 0f a0 22 f7 07 7d ef 17
             ab fd 37 97 c0 56 4b ab 4f bc 91 66 6e 9d ef 9b 97 fc e3 4f 79 67 89 ba a4 80 82 d1
             22 ee 42 c5 a7 2e 5a 51 10 ff f7 01 87 34 7b 66",
        );
        assert_eq!(out.to_vec(), expected);
    }

    #[test]
    fn prf_output_does_not_depend_on_how_much_is_asked() {
        let mut long = [0u8; 104];
        let mut short = [0u8; 12];
        for hash in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Md5Sha1] {
            prf(
                hash,
                &[7; 48],
                b"key expansion",
                &[&[1; 32], &[2; 32]],
                &mut long,
            )
            .unwrap();
            prf(
                hash,
                &[7; 48],
                b"key expansion",
                &[&[1; 32], &[2; 32]],
                &mut short,
            )
            .unwrap();
            assert_eq!(long[..12], short, "{hash:?}");
        }
    }

    #[test]
    fn key_block_lengths_follow_the_suite() {
        let lens = |version, id| {
            let suite = Suite::new(ProtocolVersion(version), CipherSuite(id)).unwrap();
            let (c, s) = key_block(&suite, &[1; 48], &[2; 32], &[3; 32]).unwrap();
            assert_ne!(c.key, s.key);
            (c.mac_key.len(), c.key.len(), c.iv.len())
        };
        assert_eq!(lens(0x0303, 0xc02f), (0, 16, 4));
        assert_eq!(lens(0x0303, 0xc030), (0, 32, 4));
        assert_eq!(lens(0x0303, 0xcca8), (0, 32, 12));
        assert_eq!(lens(0x0303, 0xc013), (20, 16, 0));
        assert_eq!(lens(0x0303, 0xc028), (48, 32, 0));
        assert_eq!(lens(0x0302, 0xc014), (20, 32, 0));
        assert_eq!(lens(0x0301, 0xc013), (20, 16, 16));
    }

    #[test]
    fn the_master_secret_must_be_48_bytes() {
        let suite = Suite::new(ProtocolVersion(0x0303), CipherSuite(0xc02f)).unwrap();
        assert_eq!(
            verify_data(&suite, &[0; 32], Sender::Client, &[0; 32]).err(),
            Some(DecryptError::SecretLength {
                expected: 48,
                got: 32
            })
        );
    }
}
