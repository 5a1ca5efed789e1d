#![no_main]

// See `lifeline_fuzz::mail_message` for what this target covers and the properties it checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| lifeline_fuzz::mail_message(data));
