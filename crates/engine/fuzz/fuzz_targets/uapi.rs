//! Arbitrary bytes as a UAPI conversation: `cargo +nightly fuzz run uapi` in
//! crates/engine/fuzz. The connection handler must answer or hang up, never panic,
//! and a set request must be parsed whole or refused.
#![no_main]

use culvert_engine::uapi::{DeviceInfo, Handler, SetRequest, UapiError, handle_connection};
use libfuzzer_sys::fuzz_target;
use std::io::{Cursor, Read, Write};

struct Accept;

impl Handler for Accept {
    fn get(&self) -> DeviceInfo {
        DeviceInfo::default()
    }

    fn set(&self, _request: &SetRequest) -> Result<(), UapiError> {
        Ok(())
    }
}

struct Duplex(Cursor<Vec<u8>>, Vec<u8>);

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = handle_connection(&mut Duplex(Cursor::new(data.to_vec()), Vec::new()), &Accept);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = culvert_engine::uapi::parse_set(text.lines());
    }
});
