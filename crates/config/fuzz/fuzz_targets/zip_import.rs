//! Any bytes as a zip archive: importing never panics, and what it imports round-trips.
#![no_main]

use culvert_config::{import_zip, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(files) = import_zip(data) else { return };
    for file in files {
        if let Ok(tunnel) = file.outcome {
            if let Ok(parsed) = tunnel.parsed {
                assert_eq!(parsed.config.to_text(), tunnel.text.as_str());
                let again = parse(&parsed.config.to_canonical_text()).expect("canonical parses");
                assert_eq!(again.config, parsed.config);
            }
        }
    }
});
