//! The switch for tests that read the installed data (`bash scripts/setup-data.sh`).
//!
//! `cargo test --workspace` passes on a fresh clone: tests that need installed sources call
//! [`enabled`] first and, unless [`DATA_TESTS_ENV`]` = 1`, return early after writing a line that
//! names them and the variable. CI (`.ci/run`) sets it, so there every such test runs and missing
//! data fails it. Tests on the embedded MNIST sample and the procedural textures always run.

use std::io::Write;

/// Environment variable that turns on the tests that read installed data.
pub const DATA_TESTS_ENV: &str = "METANAS_DATA_TESTS";

/// Whether the data test `test` should run: `true` when [`DATA_TESTS_ENV`] is `1`.
///
/// Either way it says so on standard error, written past the test harness's capture so that
/// `cargo test` shows which data tests ran and which were skipped.
pub fn enabled(test: &str) -> bool {
    let on = std::env::var(DATA_TESTS_ENV).is_ok_and(|v| v == "1");
    let line = if on {
        format!("data test {test}: runs on the installed data ({DATA_TESTS_ENV}=1)\n")
    } else {
        format!(
            "data test {test}: SKIPPED, needs the installed data: run `{}`, then set \
             {DATA_TESTS_ENV}=1\n",
            crate::SETUP_COMMAND
        )
    };
    // `eprintln!` would be captured (and hidden) for passing tests; a direct write is not.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    on
}
