//! Opening one protected record with one direction's keys: TLS 1.3's AEAD records (RFC 8446
//! 5.2, 5.3, 5.4), TLS 1.2's AEAD records (RFC 5246 6.2.3.3 with RFC 5288 for GCM, RFC 6655
//! for CCM, RFC 7905 for ChaCha20-Poly1305), and CBC records (RFC 5246 6.2.3.2, RFC 2246 for
//! TLS 1.0's chained IV, RFC 7366 for encrypt-then-MAC).
//!
//! The ciphers and MACs are RustCrypto's; this file only lays out nonces, additional data,
//! MAC input and padding. A CBC record's padding and MAC are checked without a care for
//! timing: nothing here answers a peer, so there is no oracle to hide.

use super::DecryptError;
use super::suite::{AeadAlg, BlockAlg, MacAlg};
use aes::{Aes128, Aes128Dec, Aes256, Aes256Dec};
use aes_gcm::aead::array::typenum::Unsigned;
use aes_gcm::aead::{AeadCore, AeadInOut, KeyInit, Nonce, Tag};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use cbc::cipher::array::Array;
use cbc::cipher::{BlockModeDecrypt, InnerIvInit};
use ccm::Ccm;
use ccm::consts::{U8, U12, U16};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};

/// RFC 5246 6.2.3: TLSCiphertext.length is at most 2^14 + 2048 (TLS 1.3 allows less).
pub(super) const MAX_CIPHERTEXT: usize = (1 << 14) + 2048;
/// Every AEAD here takes a 12-byte nonce.
pub(super) const NONCE_LEN: usize = 12;
const BLOCK: usize = 16;

type Aes128Ccm = Ccm<Aes128, U16, U12>;
type Aes128Ccm8 = Ccm<Aes128, U8, U12>;
type Aes256Ccm = Ccm<Aes256, U16, U12>;
type Aes256Ccm8 = Ccm<Aes256, U8, U12>;

/// A keyed AEAD. Boxed: the AES key schedules make these a few hundred bytes each.
pub(super) enum Aead {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha20Poly1305(Box<ChaCha20Poly1305>),
    Aes128Ccm(Box<Aes128Ccm>),
    Aes128Ccm8(Box<Aes128Ccm8>),
    Aes256Ccm(Box<Aes256Ccm>),
    Aes256Ccm8(Box<Aes256Ccm8>),
}

/// A cipher or MAC keyed with `key`, boxed: the enums that hold one stay small.
fn keyed<K: KeyInit>(key: &[u8]) -> Result<Box<K>, DecryptError> {
    K::new_from_slice(key)
        .map(Box::new)
        .map_err(|_| DecryptError::KeyDerivation)
}

impl Aead {
    pub(super) fn new(alg: AeadAlg, key: &[u8]) -> Result<Aead, DecryptError> {
        Ok(match alg {
            AeadAlg::Aes128Gcm => Aead::Aes128Gcm(keyed(key)?),
            AeadAlg::Aes256Gcm => Aead::Aes256Gcm(keyed(key)?),
            AeadAlg::ChaCha20Poly1305 => Aead::ChaCha20Poly1305(keyed(key)?),
            AeadAlg::Aes128Ccm => Aead::Aes128Ccm(keyed(key)?),
            AeadAlg::Aes128Ccm8 => Aead::Aes128Ccm8(keyed(key)?),
            AeadAlg::Aes256Ccm => Aead::Aes256Ccm(keyed(key)?),
            AeadAlg::Aes256Ccm8 => Aead::Aes256Ccm8(keyed(key)?),
        })
    }

    pub(super) fn tag_len(&self) -> usize {
        match self {
            Aead::Aes128Ccm8(_) | Aead::Aes256Ccm8(_) => 8,
            _ => 16,
        }
    }

    /// Decrypts and authenticates `sealed` (ciphertext, then tag).
    pub(super) fn open(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        match self {
            Aead::Aes128Gcm(a) => open_with(a.as_ref(), nonce, aad, sealed),
            Aead::Aes256Gcm(a) => open_with(a.as_ref(), nonce, aad, sealed),
            Aead::ChaCha20Poly1305(a) => open_with(a.as_ref(), nonce, aad, sealed),
            Aead::Aes128Ccm(a) => open_with(a.as_ref(), nonce, aad, sealed),
            Aead::Aes128Ccm8(a) => open_with(a.as_ref(), nonce, aad, sealed),
            Aead::Aes256Ccm(a) => open_with(a.as_ref(), nonce, aad, sealed),
            Aead::Aes256Ccm8(a) => open_with(a.as_ref(), nonce, aad, sealed),
        }
    }
}

fn open_with<A: AeadInOut>(
    aead: &A,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    let tag_len = <A as AeadCore>::TagSize::USIZE;
    let split = sealed.len().checked_sub(tag_len);
    let (ciphertext, tag) = split
        .and_then(|at| sealed.split_at_checked(at))
        .ok_or(DecryptError::RecordTooShort)?;
    let tag = Tag::<A>::try_from(tag).map_err(|_| DecryptError::RecordTooShort)?;
    let nonce = Nonce::<A>::try_from(nonce.as_slice()).map_err(|_| DecryptError::KeyDerivation)?;
    let mut plaintext = ciphertext.to_vec();
    aead.decrypt_inout_detached(&nonce, aad, plaintext.as_mut_slice().into(), &tag)
        .map_err(|_| DecryptError::AuthenticationFailed)?;
    Ok(plaintext)
}

/// The TLS 1.3 and ChaCha20 nonce: the IV XOR the sequence number, left-padded to 12 bytes.
pub(super) fn xor_nonce(iv: &[u8; NONCE_LEN], sequence: u64) -> [u8; NONCE_LEN] {
    let mut nonce = *iv;
    for (n, s) in nonce.iter_mut().skip(4).zip(sequence.to_be_bytes()) {
        *n ^= s;
    }
    nonce
}

/// TLS 1.3: the additional data is the record header as sent (RFC 8446 5.2); the plaintext
/// is TLSInnerPlaintext, whose last non-zero byte is the real content type (5.4).
pub(super) fn open_tls13(
    aead: &Aead,
    iv: &[u8; NONCE_LEN],
    sequence: u64,
    header: (u8, u16),
    body: &[u8],
) -> Result<(u8, Vec<u8>), DecryptError> {
    let (content_type, version) = header;
    // The content type byte is inside: a record holds at least the tag and one byte.
    if body.len() <= aead.tag_len() {
        return Err(DecryptError::RecordTooShort);
    }
    let length = u16::try_from(body.len()).map_err(|_| DecryptError::RecordTooLong)?;
    let mut aad = [0u8; 5];
    aad[0] = content_type;
    aad[1..3].copy_from_slice(&version.to_be_bytes());
    aad[3..5].copy_from_slice(&length.to_be_bytes());
    let mut inner = aead.open(&xor_nonce(iv, sequence), &aad, body)?;
    let end = inner
        .iter()
        .rposition(|&b| b != 0)
        .ok_or(DecryptError::NoContentType)?;
    let real_type = inner.get(end).copied().ok_or(DecryptError::NoContentType)?;
    inner.truncate(end);
    Ok((real_type, inner))
}

/// TLS 1.2's additional data and MAC prefix: seq_num, type, version, length (RFC 5246
/// 6.2.3.1, 6.2.3.3).
fn pseudo_header(
    sequence: u64,
    content_type: u8,
    version: u16,
    length: usize,
) -> Result<[u8; 13], DecryptError> {
    let length = u16::try_from(length).map_err(|_| DecryptError::RecordTooLong)?;
    let mut header = [0u8; 13];
    header[..8].copy_from_slice(&sequence.to_be_bytes());
    header[8] = content_type;
    header[9..11].copy_from_slice(&version.to_be_bytes());
    header[11..13].copy_from_slice(&length.to_be_bytes());
    Ok(header)
}

/// A TLS 1.2 AEAD record: GCM and CCM send an 8-byte explicit nonce after the 4-byte fixed
/// IV; ChaCha20 sends none and XORs the 12-byte IV with the sequence number.
pub(super) fn open_tls12_aead(
    aead: &Aead,
    fixed_iv: &[u8; NONCE_LEN],
    explicit_nonce_len: usize,
    sequence: u64,
    header: (u8, u16),
    body: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    let (content_type, version) = header;
    let (explicit, sealed) = body
        .split_at_checked(explicit_nonce_len)
        .ok_or(DecryptError::RecordTooShort)?;
    let plaintext_len = sealed
        .len()
        .checked_sub(aead.tag_len())
        .ok_or(DecryptError::RecordTooShort)?;
    let nonce = if explicit.is_empty() {
        xor_nonce(fixed_iv, sequence)
    } else {
        let mut nonce = *fixed_iv;
        for (n, e) in nonce.iter_mut().skip(4).zip(explicit) {
            *n = *e;
        }
        nonce
    };
    let aad = pseudo_header(sequence, content_type, version, plaintext_len)?;
    aead.open(&nonce, &aad, sealed)
}

/// A keyed AES decryption, to run CBC over.
#[derive(Clone)]
enum BlockDecrypt {
    Aes128(Box<Aes128Dec>),
    Aes256(Box<Aes256Dec>),
}

/// A keyed record HMAC.
#[derive(Clone)]
enum RecordMac {
    Sha1(Box<Hmac<Sha1>>),
    Sha256(Box<Hmac<Sha256>>),
    Sha384(Box<Hmac<Sha384>>),
}

impl RecordMac {
    fn new(alg: MacAlg, key: &[u8]) -> Result<RecordMac, DecryptError> {
        Ok(match alg {
            MacAlg::Sha1 => RecordMac::Sha1(keyed(key)?),
            MacAlg::Sha256 => RecordMac::Sha256(keyed(key)?),
            MacAlg::Sha384 => RecordMac::Sha384(keyed(key)?),
        })
    }

    fn len(&self) -> usize {
        match self {
            RecordMac::Sha1(_) => MacAlg::Sha1.len(),
            RecordMac::Sha256(_) => MacAlg::Sha256.len(),
            RecordMac::Sha384(_) => MacAlg::Sha384.len(),
        }
    }

    fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        fn check<M: Mac + Clone>(mac: &M, parts: &[&[u8]], tag: &[u8]) -> bool {
            let mut mac = mac.clone();
            for part in parts {
                mac.update(part);
            }
            mac.verify_slice(tag).is_ok()
        }
        match self {
            RecordMac::Sha1(m) => check(m.as_ref(), parts, tag),
            RecordMac::Sha256(m) => check(m.as_ref(), parts, tag),
            RecordMac::Sha384(m) => check(m.as_ref(), parts, tag),
        }
    }
}

/// One direction of a CBC suite.
pub(super) struct Cbc {
    cipher: BlockDecrypt,
    mac: RecordMac,
    encrypt_then_mac: bool,
    /// TLS 1.0: the IV of the next record, the last ciphertext block of this one (the key
    /// block's IV for the first). TLS 1.1 and later send each record's IV first.
    chained_iv: Option<[u8; BLOCK]>,
}

impl Cbc {
    pub(super) fn new(
        cipher: BlockAlg,
        key: &[u8],
        mac: MacAlg,
        mac_key: &[u8],
        first_iv: Option<&[u8]>,
        encrypt_then_mac: bool,
    ) -> Result<Cbc, DecryptError> {
        let cipher = match cipher {
            BlockAlg::Aes128 => BlockDecrypt::Aes128(Box::new(
                Aes128Dec::new_from_slice(key).map_err(|_| DecryptError::KeyDerivation)?,
            )),
            BlockAlg::Aes256 => BlockDecrypt::Aes256(Box::new(
                Aes256Dec::new_from_slice(key).map_err(|_| DecryptError::KeyDerivation)?,
            )),
        };
        let chained_iv = match first_iv {
            Some(iv) => Some(<[u8; BLOCK]>::try_from(iv).map_err(|_| DecryptError::KeyDerivation)?),
            None => None,
        };
        Ok(Cbc {
            cipher,
            mac: RecordMac::new(mac, mac_key)?,
            encrypt_then_mac,
            chained_iv,
        })
    }

    /// Opens one record; only a record that opens moves TLS 1.0's IV chain on, as only such
    /// a record takes a sequence number.
    pub(super) fn open(
        &mut self,
        sequence: u64,
        header: (u8, u16),
        body: &[u8],
    ) -> Result<Vec<u8>, DecryptError> {
        let (plaintext, next_iv) = if self.encrypt_then_mac {
            self.open_etm(sequence, header, body)?
        } else {
            self.open_mte(sequence, header, body)?
        };
        if let Some(iv) = &mut self.chained_iv {
            *iv = next_iv;
        }
        Ok(plaintext)
    }

    /// MAC-then-encrypt: decrypt, strip the padding, then check the MAC over the content.
    fn open_mte(
        &self,
        sequence: u64,
        (content_type, version): (u8, u16),
        body: &[u8],
    ) -> Result<(Vec<u8>, [u8; BLOCK]), DecryptError> {
        let mac_len = self.mac.len();
        let (iv, ciphertext) = self.split_iv(body)?;
        let (mut plaintext, next_iv) = self.decrypt(iv, ciphertext);
        let unpadded = unpad(&plaintext)?;
        let content_len = unpadded
            .checked_sub(mac_len)
            .ok_or(DecryptError::RecordTooShort)?;
        let (content, rest) = plaintext
            .split_at_checked(content_len)
            .ok_or(DecryptError::RecordTooShort)?;
        let tag = rest.get(..mac_len).ok_or(DecryptError::RecordTooShort)?;
        let header = pseudo_header(sequence, content_type, version, content_len)?;
        if !self.mac.verify(&[&header, content], tag) {
            return Err(DecryptError::AuthenticationFailed);
        }
        plaintext.truncate(content_len);
        Ok((plaintext, next_iv))
    }

    /// Encrypt-then-MAC (RFC 7366): the MAC covers the IV and ciphertext as sent, and is
    /// checked before anything is decrypted.
    fn open_etm(
        &self,
        sequence: u64,
        (content_type, version): (u8, u16),
        body: &[u8],
    ) -> Result<(Vec<u8>, [u8; BLOCK]), DecryptError> {
        let mac_len = self.mac.len();
        let sealed_len = body
            .len()
            .checked_sub(mac_len)
            .ok_or(DecryptError::RecordTooShort)?;
        let (sealed, tag) = body
            .split_at_checked(sealed_len)
            .ok_or(DecryptError::RecordTooShort)?;
        let header = pseudo_header(sequence, content_type, version, sealed_len)?;
        let (iv, ciphertext) = self.split_iv(sealed)?;
        if !self.mac.verify(&[&header, sealed], tag) {
            return Err(DecryptError::AuthenticationFailed);
        }
        let (mut plaintext, next_iv) = self.decrypt(iv, ciphertext);
        let unpadded = unpad(&plaintext)?;
        plaintext.truncate(unpadded);
        Ok((plaintext, next_iv))
    }

    /// The IV (sent first, except at TLS 1.0) and the whole blocks of ciphertext after it.
    fn split_iv<'a>(&self, sealed: &'a [u8]) -> Result<([u8; BLOCK], &'a [u8]), DecryptError> {
        let (iv, ciphertext) = match self.chained_iv {
            Some(iv) => (iv, sealed),
            None => {
                let (iv, rest) = sealed
                    .split_at_checked(BLOCK)
                    .ok_or(DecryptError::RecordTooShort)?;
                let iv = <[u8; BLOCK]>::try_from(iv).map_err(|_| DecryptError::RecordTooShort)?;
                (iv, rest)
            }
        };
        if ciphertext.is_empty() {
            return Err(DecryptError::RecordTooShort);
        }
        if !ciphertext.len().is_multiple_of(BLOCK) {
            return Err(DecryptError::NotBlockAligned);
        }
        Ok((iv, ciphertext))
    }

    /// CBC-decrypts whole blocks, padding included; with the plaintext, the last ciphertext
    /// block, TLS 1.0's IV for the next record.
    fn decrypt(&self, iv: [u8; BLOCK], ciphertext: &[u8]) -> (Vec<u8>, [u8; BLOCK]) {
        let mut next_iv = [0u8; BLOCK];
        if let Some(last) = ciphertext.rchunks_exact(BLOCK).next() {
            next_iv.copy_from_slice(last);
        }
        let mut plaintext = ciphertext.to_vec();
        let (blocks, _) = Array::slice_as_chunks_mut(&mut plaintext);
        let iv = Array::from(iv);
        match &self.cipher {
            BlockDecrypt::Aes128(c) => {
                cbc::Decryptor::<Aes128Dec>::inner_iv_init(c.as_ref().clone(), &iv)
                    .decrypt_blocks(blocks);
            }
            BlockDecrypt::Aes256(c) => {
                cbc::Decryptor::<Aes256Dec>::inner_iv_init(c.as_ref().clone(), &iv)
                    .decrypt_blocks(blocks);
            }
        }
        (plaintext, next_iv)
    }
}

/// The length before the CBC padding: the last byte says how many bytes before it are
/// padding, each holding that same value (RFC 5246 6.2.3.2).
fn unpad(plaintext: &[u8]) -> Result<usize, DecryptError> {
    let (&pad, rest) = plaintext.split_last().ok_or(DecryptError::BadPadding)?;
    let start = rest
        .len()
        .checked_sub(usize::from(pad))
        .ok_or(DecryptError::BadPadding)?;
    let padding = rest.get(start..).ok_or(DecryptError::BadPadding)?;
    if padding.iter().any(|&b| b != pad) {
        return Err(DecryptError::BadPadding);
    }
    Ok(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_read_from_its_last_byte() {
        assert_eq!(unpad(&[1, 2, 3, 0]), Ok(3));
        assert_eq!(unpad(&[1, 2, 2, 2]), Ok(1));
        assert_eq!(unpad(&[3, 3, 3, 3]), Ok(0));
        assert_eq!(unpad(&[1, 9, 2, 2]), Err(DecryptError::BadPadding));
        assert_eq!(unpad(&[4, 4, 4, 4]), Err(DecryptError::BadPadding));
        assert_eq!(unpad(&[]), Err(DecryptError::BadPadding));
        assert_eq!(unpad(&[255; 16]), Err(DecryptError::BadPadding));
    }

    #[test]
    fn the_nonce_takes_the_sequence_in_its_last_8_bytes() {
        let iv = [0xff; NONCE_LEN];
        let nonce = xor_nonce(&iv, 0x0102);
        assert_eq!(
            nonce,
            [
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xfd
            ]
        );
    }

    #[test]
    fn short_aead_records_are_refused_before_decrypting() {
        let aead = Aead::new(AeadAlg::Aes128Ccm8, &[0; 16]).unwrap();
        assert_eq!(aead.tag_len(), 8);
        let iv = [0; NONCE_LEN];
        for len in 0..=8 {
            assert_eq!(
                open_tls13(&aead, &iv, 0, (23, 0x0303), &vec![0; len]),
                Err(DecryptError::RecordTooShort),
                "{len}"
            );
        }
        assert_eq!(
            open_tls13(&aead, &iv, 0, (23, 0x0303), &[0; 9]),
            Err(DecryptError::AuthenticationFailed)
        );
        let gcm = Aead::new(AeadAlg::Aes256Gcm, &[0; 32]).unwrap();
        for len in [0, 7, 8, 23] {
            assert_eq!(
                open_tls12_aead(&gcm, &iv, 8, 0, (23, 0x0303), &vec![0; len]),
                Err(DecryptError::RecordTooShort),
                "{len}"
            );
        }
        assert!(Aead::new(AeadAlg::Aes256Gcm, &[0; 16]).is_err());
    }

    #[test]
    fn cbc_length_checks() {
        let mut cbc = Cbc::new(
            BlockAlg::Aes128,
            &[0; 16],
            MacAlg::Sha1,
            &[0; 20],
            None,
            false,
        )
        .unwrap();
        assert_eq!(
            cbc.open(0, (23, 0x0303), &[]),
            Err(DecryptError::RecordTooShort)
        );
        assert_eq!(
            cbc.open(0, (23, 0x0303), &[0; 16]),
            Err(DecryptError::RecordTooShort)
        );
        assert_eq!(
            cbc.open(0, (23, 0x0303), &[0; 40]),
            Err(DecryptError::NotBlockAligned)
        );
        let result = cbc.open(0, (23, 0x0303), &[0; 48]);
        assert!(
            matches!(
                result,
                Err(DecryptError::BadPadding
                    | DecryptError::RecordTooShort
                    | DecryptError::AuthenticationFailed)
            ),
            "{result:?}"
        );
        let mut etm = Cbc::new(
            BlockAlg::Aes256,
            &[0; 32],
            MacAlg::Sha384,
            &[0; 48],
            Some(&[0; 16]),
            true,
        )
        .unwrap();
        for (len, error) in [
            (47, DecryptError::RecordTooShort),
            (48, DecryptError::RecordTooShort),
            (64, DecryptError::AuthenticationFailed),
            (65, DecryptError::NotBlockAligned),
        ] {
            assert_eq!(
                etm.open(0, (23, 0x0301), &vec![0; len]),
                Err(error),
                "{len}"
            );
        }
        // A record that fails leaves the IV chain where it was.
        assert_eq!(
            etm.open(0, (23, 0x0301), &[5; 64]),
            Err(DecryptError::AuthenticationFailed)
        );
        assert_eq!(etm.chained_iv, Some([0; 16]));
    }
}
