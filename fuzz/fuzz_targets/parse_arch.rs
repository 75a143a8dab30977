//! Fuzz the NAS-Bench-201 architecture parser: any input must parse or fail with a typed error,
//! and whatever parses must print back to exactly the same string.
#![no_main]

use libfuzzer_sys::fuzz_target;
use search_space::Nb201Arch;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(arch) = text.parse::<Nb201Arch>() {
            assert_eq!(arch.to_string(), text);
            assert_eq!(Nb201Arch::from_index(arch.index()), Some(arch));
        }
    }
});
