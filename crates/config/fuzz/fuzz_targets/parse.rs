//! Any bytes, read as text: parsing never panics, and a config that parses prints back
//! exactly as given and, printed canonically, parses to the same config.
#![no_main]

use culvert_config::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(parsed) = parse(&text) {
        assert_eq!(parsed.config.to_text(), text);
        let canonical = parsed.config.to_canonical_text();
        let again = parse(&canonical).expect("canonical text parses");
        assert_eq!(again.config, parsed.config);
    }
});
