//! Reading big-endian integers out of wire bytes without a chance of panicking.

/// The big-endian u16 at `at`, if the bytes are there.
pub(crate) fn be_u16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(bytes.try_into().ok()?))
}

/// The 24-bit big-endian number at `at` (TLS's handshake and certificate lengths).
pub(crate) fn be_u24(data: &[u8], at: usize) -> Option<usize> {
    let b = data.get(at..at.checked_add(3)?)?;
    Some(b.iter().fold(0, |n, &byte| n << 8 | usize::from(byte)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_in_bounds_only() {
        assert_eq!(super::be_u16(&[1, 2, 3], 1), Some(0x0203));
        assert_eq!(super::be_u16(&[1, 2, 3], 2), None);
        assert_eq!(super::be_u16(&[], usize::MAX), None);
    }
}
