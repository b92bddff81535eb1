//! One direction's byte stream through the TLS decoder, delivered in pieces of fuzzed sizes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsdiag::capture::Timestamp;
use tlsdiag::tls::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut).max(1);
    for server in [false, true] {
        let mut decoder = Decoder::new(server, Default::default());
        if cut & 1 == 1 {
            decoder.joined_mid_stream();
        }
        let mut buffered: Vec<u8> = Vec::new();
        let mut events = Vec::new();
        for piece in stream.chunks(step) {
            buffered.extend_from_slice(piece);
            let used = decoder.feed(&buffered, |_| Some((1, Timestamp::default())), &mut events);
            buffered.drain(..used.min(buffered.len()));
        }
    }
});
