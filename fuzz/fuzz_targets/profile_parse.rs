//! Fuzz target: the platform profile parser (`Profile::parse`, what the service reads from the
//! device's profile file), and the round trip through the profile's own file format.

#![no_main]

use central_gralloc::profile::Profile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(profile) = Profile::parse(&text) {
        let written = profile.to_string();
        match Profile::parse(&written) {
            Ok(again) => assert_eq!(again, profile, "the round trip changed the profile"),
            Err(e) => panic!("the profile as written does not parse: {e}\n{written}"),
        }
    }
});
