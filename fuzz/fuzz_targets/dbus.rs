#![no_main]

// See `lifeline_fuzz::dbus_message` for what this target covers and the properties it checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| lifeline_fuzz::dbus_message(data));
