//! The TLS 1.3 key schedule from a traffic secret on (RFC 8446 7.1, 7.2, 7.3): the record key
//! and IV, the next secret of a KeyUpdate, and the Finished MAC (4.4.4).
//!
//! The key log gives the traffic secrets themselves, so nothing before them (the early,
//! handshake and master secrets, the key exchange) is derived here. HKDF and HMAC are the
//! `hkdf` and `hmac` crates'.

use super::suite::{HashAlg, Protection, Suite};
use super::{DecryptError, HmacHash, hmac};
use hkdf::Hkdf;
use sha2::{Sha256, Sha384};

/// The record nonce's length for every TLS 1.3 AEAD (RFC 8446 5.3).
pub(super) const IV_LEN: usize = 12;

/// HKDF-Expand-Label (RFC 8446 7.1): HKDF-Expand(secret, HkdfLabel, out.len()) with
/// HkdfLabel = length, "tls13 " + label, context.
pub(super) fn expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), DecryptError> {
    expand_labels(hash, secret, context, &mut [(label, out)])
}

/// HKDF-Expand-Label of one secret for several labels: the secret's HMAC key is set up once
/// (two compressions of the hash) for all of them.
fn expand_labels(
    hash: HashAlg,
    secret: &[u8],
    context: &[u8],
    outs: &mut [(&[u8], &mut [u8])],
) -> Result<(), DecryptError> {
    match hash {
        HashAlg::Sha256 => {
            let hkdf = Hkdf::<Sha256>::from_prk(secret).map_err(|_| DecryptError::KeyDerivation)?;
            outs.iter_mut().try_for_each(|(label, out)| {
                expand_one(|i, o| hkdf.expand(i, o).is_ok(), label, context, out)
            })
        }
        HashAlg::Sha384 => {
            let hkdf = Hkdf::<Sha384>::from_prk(secret).map_err(|_| DecryptError::KeyDerivation)?;
            outs.iter_mut().try_for_each(|(label, out)| {
                expand_one(|i, o| hkdf.expand(i, o).is_ok(), label, context, out)
            })
        }
        HashAlg::Md5Sha1 => Err(DecryptError::KeyDerivation),
    }
}

/// One label's HkdfLabel, expanded by `expand`.
fn expand_one(
    expand: impl Fn(&[u8], &mut [u8]) -> bool,
    label: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> Result<(), DecryptError> {
    const PREFIX: &[u8] = b"tls13 ";
    let length = u16::try_from(out.len()).map_err(|_| DecryptError::KeyDerivation)?;
    let label_len =
        u8::try_from(PREFIX.len() + label.len()).map_err(|_| DecryptError::KeyDerivation)?;
    let context_len = u8::try_from(context.len()).map_err(|_| DecryptError::KeyDerivation)?;
    let mut info = Vec::with_capacity(4 + usize::from(label_len) + context.len());
    info.extend_from_slice(&length.to_be_bytes());
    info.push(label_len);
    info.extend_from_slice(PREFIX);
    info.extend_from_slice(label);
    info.push(context_len);
    info.extend_from_slice(context);
    if expand(&info, out) {
        Ok(())
    } else {
        Err(DecryptError::KeyDerivation)
    }
}

/// A traffic secret must be as long as the suite's hash (RFC 8446 7.1).
pub(super) fn check_secret(suite: &Suite, secret: &[u8]) -> Result<(), DecryptError> {
    let expected = suite.hash.len();
    if !suite.is_tls13() {
        return Err(DecryptError::UnsupportedSuite(suite.id()));
    }
    if secret.len() != expected {
        return Err(DecryptError::SecretLength {
            expected,
            got: secret.len(),
        });
    }
    Ok(())
}

/// The write key and IV of a traffic secret (RFC 8446 7.3).
pub(super) fn traffic_keys(
    suite: &Suite,
    secret: &[u8],
) -> Result<(Vec<u8>, [u8; IV_LEN]), DecryptError> {
    check_secret(suite, secret)?;
    let Protection::Aead(aead) = suite.protection else {
        return Err(DecryptError::UnsupportedSuite(suite.id()));
    };
    let mut key = vec![0u8; aead.key_len()];
    let mut iv = [0u8; IV_LEN];
    expand_labels(
        suite.hash,
        secret,
        b"",
        &mut [(b"key", &mut key), (b"iv", &mut iv)],
    )?;
    Ok((key, iv))
}

/// application_traffic_secret_N+1 after a KeyUpdate (RFC 8446 7.2).
pub(super) fn next_traffic_secret(suite: &Suite, secret: &[u8]) -> Result<Vec<u8>, DecryptError> {
    check_secret(suite, secret)?;
    let mut next = vec![0u8; suite.hash.len()];
    expand_label(suite.hash, secret, b"traffic upd", b"", &mut next)?;
    Ok(next)
}

/// finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length) (RFC 8446 4.4.4).
fn finished_key(suite: &Suite, base_key: &[u8]) -> Result<Vec<u8>, DecryptError> {
    check_secret(suite, base_key)?;
    let mut key = vec![0u8; suite.hash.len()];
    expand_label(suite.hash, base_key, b"finished", b"", &mut key)?;
    Ok(key)
}

/// A TLS 1.3 Finished's verify_data (RFC 8446 4.4.4): HMAC(finished_key, transcript hash),
/// where the base key is the sender's handshake traffic secret (CLIENT_ or
/// SERVER_HANDSHAKE_TRAFFIC_SECRET) and the transcript hash covers the handshake up to,
/// not including, this Finished (`Transcript::hash`).
pub fn verify_data(
    suite: &Suite,
    handshake_traffic_secret: &[u8],
    transcript_hash: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    let key = finished_key(suite, handshake_traffic_secret)?;
    let hash = match suite.hash {
        HashAlg::Sha256 => HmacHash::Sha256,
        HashAlg::Sha384 => HmacHash::Sha384,
        HashAlg::Md5Sha1 => return Err(DecryptError::UnsupportedSuite(suite.id())),
    };
    hmac(hash, &key, &[transcript_hash])
}

#[cfg(test)]
mod tests {
    use super::super::tests::{rfc8448, split_handshake};
    use super::super::{Decryptor, Transcript};
    use super::*;
    use crate::tls::values::{CipherSuite, ProtocolVersion};

    fn aes128gcm() -> Suite {
        Suite::new(ProtocolVersion(0x0304), CipherSuite(0x1301)).unwrap()
    }

    /// Splits a record into its header's fields and its body.
    fn record(bytes: &[u8]) -> (u8, u16, &[u8]) {
        let version = u16::from_be_bytes([bytes[1], bytes[2]]);
        (bytes[0], version, &bytes[5..])
    }

    #[test]
    fn rfc8448_server_handshake_key_and_iv() {
        let v = rfc8448();
        let (key, iv) = traffic_keys(&aes128gcm(), &v("server_handshake_traffic_secret")).unwrap();
        assert_eq!(key, v("server_handshake_key"));
        assert_eq!(iv.to_vec(), v("server_handshake_iv"));
        let finished = finished_key(&aes128gcm(), &v("server_handshake_traffic_secret")).unwrap();
        assert_eq!(finished, v("server_finished_key"));
    }

    #[test]
    fn rfc8448_server_flight_decrypts_and_its_finished_verifies() {
        let v = rfc8448();
        let suite = aes128gcm();
        let mut server = Decryptor::tls13(&suite, &v("server_handshake_traffic_secret")).unwrap();
        let flight = v("server_handshake_record");
        let (content_type, version, body) = record(&flight);
        let plain = server.open(content_type, version, body).unwrap();
        assert_eq!(plain.content_type, 22, "handshake, inside application_data");
        assert_eq!(server.sequence(), Some(1));

        // EncryptedExtensions (40 bytes), Certificate (445), CertificateVerify (136),
        // Finished (36), as the RFC lists them.
        let messages = split_handshake(&plain.data);
        let kinds: Vec<(u8, usize)> = messages.iter().map(|m| (m[0], m.len())).collect();
        assert_eq!(kinds, [(8, 40), (11, 445), (15, 136), (20, 36)]);
        assert_eq!(
            &messages[0][..12],
            [8, 0, 0, 0x24, 0, 0x22, 0, 0x0a, 0, 0x14, 0, 0x12]
        );

        let mut transcript = Transcript::new();
        transcript.add(&v("client_hello"));
        transcript.add(&v("server_hello"));
        transcript.use_suite(&suite);
        assert_eq!(
            transcript.hash().unwrap(),
            v("handshake_hash_to_server_hello")
        );
        for m in &messages[..3] {
            transcript.add(m);
        }
        let expected = verify_data(
            &suite,
            &v("server_handshake_traffic_secret"),
            &transcript.hash().unwrap(),
        )
        .unwrap();
        assert_eq!(expected, v("server_finished_verify_data"));
        assert_eq!(&messages[3][4..], expected.as_slice());

        // The client's Finished covers the server's.
        transcript.add(&messages[3]);
        let mut client = Decryptor::tls13(&suite, &v("client_handshake_traffic_secret")).unwrap();
        let fin = v("client_finished_record");
        let (content_type, version, body) = record(&fin);
        let plain = client.open(content_type, version, body).unwrap();
        let expected = verify_data(
            &suite,
            &v("client_handshake_traffic_secret"),
            &transcript.hash().unwrap(),
        )
        .unwrap();
        assert_eq!(expected, v("client_finished_verify_data"));
        assert_eq!(plain.data[..4], [20, 0, 0, 32]);
        assert_eq!(&plain.data[4..], expected.as_slice());
    }

    #[test]
    fn rfc8448_application_data() {
        let v = rfc8448();
        let suite = aes128gcm();
        let payload: Vec<u8> = (0..50).collect();
        let open = |d: &mut Decryptor, name: &str| {
            let bytes = v(name);
            let (content_type, version, body) = record(&bytes);
            d.open(content_type, version, body).unwrap()
        };
        let mut client = Decryptor::tls13(&suite, &v("client_application_traffic_secret")).unwrap();
        let plain = open(&mut client, "client_application_record");
        assert_eq!((plain.content_type, plain.data), (23, payload.clone()));

        let mut server = Decryptor::tls13(&suite, &v("server_application_traffic_secret")).unwrap();
        let ticket = open(&mut server, "server_new_session_ticket_record");
        assert_eq!(ticket.content_type, 22);
        assert_eq!(split_handshake(&ticket.data).len(), 1);
        assert_eq!(
            ticket.data[..4],
            [4, 0, 0, 0xc9],
            "NewSessionTicket, 201 bytes"
        );
        let plain = open(&mut server, "server_application_record");
        assert_eq!((plain.content_type, plain.data), (23, payload));
    }

    #[test]
    fn a_wrong_secret_or_a_changed_byte_fails_authentication() {
        let v = rfc8448();
        let suite = aes128gcm();
        let bytes = v("client_finished_record");
        let (content_type, version, body) = record(&bytes);
        let mut wrong = Decryptor::tls13(&suite, &v("server_handshake_traffic_secret")).unwrap();
        assert_eq!(
            wrong.open(content_type, version, body),
            Err(DecryptError::AuthenticationFailed)
        );
        // The header is authenticated too.
        let mut right = Decryptor::tls13(&suite, &v("client_handshake_traffic_secret")).unwrap();
        assert_eq!(
            right.open(content_type, 0x0301, body),
            Err(DecryptError::AuthenticationFailed)
        );
        // A failure takes no sequence number: the record as sent still opens as record 0.
        let plain = right.open(content_type, version, body).unwrap();
        assert_eq!(plain.content_type, 22);
        // The sequence number is authenticated too: record 0 does not open as record 1.
        assert_eq!(
            right.open(content_type, version, body),
            Err(DecryptError::AuthenticationFailed)
        );
    }

    #[test]
    fn secrets_must_fit_the_suite() {
        let v = rfc8448();
        let sha384 = Suite::new(ProtocolVersion(0x0304), CipherSuite(0x1302)).unwrap();
        assert_eq!(
            Decryptor::tls13(&sha384, &v("client_handshake_traffic_secret")).err(),
            Some(DecryptError::SecretLength {
                expected: 48,
                got: 32
            })
        );
        let tls12 = Suite::new(ProtocolVersion(0x0303), CipherSuite(0xc02f)).unwrap();
        assert_eq!(
            verify_data(&tls12, &[0; 32], &[0; 32]).err(),
            Some(DecryptError::UnsupportedSuite(CipherSuite(0xc02f)))
        );
    }
}
