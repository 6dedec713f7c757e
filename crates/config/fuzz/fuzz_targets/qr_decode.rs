//! Any bytes as an image file given to the QR import: decoding never panics, never
//! allocates past the image limits, and whatever text it reads goes through the config
//! parser like an imported file.
//!
//! `decode_qr` itself catches panics inside the QR reader (rqrr), so the harness's
//! abort-on-panic hook is replaced by a quiet one; a panic that escapes `decode_qr` is
//! still reported with its message and aborts, which libFuzzer records as a crash.
#![no_main]

use culvert_config::{decode_qr, parse};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::sync::Once;

thread_local! {
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

fn quiet_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            LAST_PANIC.with(|last| *last.borrow_mut() = info.to_string());
        }))
    });
}

fuzz_target!(|data: &[u8]| {
    quiet_panics();
    let outcome = std::panic::catch_unwind(|| {
        if let Ok(text) = decode_qr(data) {
            let _ = parse(&text);
        }
    });
    if outcome.is_err() {
        LAST_PANIC.with(|last| eprintln!("panic escaped decode_qr: {}", last.borrow()));
        std::process::abort();
    }
});
