//! Any text as a template over commit-message-shaped data: an error or an output, never a
//! panic, a hang or unbounded memory.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gotemplate::fuzzing::render(data);
});
