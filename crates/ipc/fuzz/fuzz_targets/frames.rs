//! Arbitrary bytes as a stream of IPC frames, fed in arbitrary chunks, decoded as both
//! sides' messages: `cargo +nightly fuzz run frames` in crates/ipc/fuzz. Nothing may
//! panic or allocate what a header merely claims.
#![no_main]

use culvert_ipc::{ClientMessage, FrameDecoder, ServerMessage, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(split).max(1);
    let mut decoder = FrameDecoder::new();
    for piece in rest.chunks(chunk) {
        decoder.feed(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    let _ = decode::<ClientMessage>(&frame);
                    let _ = decode::<ServerMessage>(&frame);
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
    let _ = decoder.finish();
});
