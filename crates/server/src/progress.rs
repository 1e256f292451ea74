//! Progress bars of the long commands (drawn only on a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `total` items of `what`, with the rate and time left.
pub fn items(total: u64, what: &str) -> ProgressBar {
    styled(
        total,
        &format!("{{bar:40}} {{human_pos}}/{{human_len}} {what}, {{per_sec}}, ETA {{eta}}"),
    )
}

/// A bar over `total` bytes of `what`.
pub fn bytes(total: u64, what: &str) -> ProgressBar {
    styled(
        total,
        &format!("{{bar:40}} {{bytes}}/{{total_bytes}} {what}, {{bytes_per_sec}}, ETA {{eta}}"),
    )
}

/// A spinner for a step whose size is not known ahead.
pub fn step(what: &str) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message(what.to_owned());
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    spinner
}

fn styled(total: u64, template: &str) -> ProgressBar {
    ProgressBar::new(total)
        .with_style(ProgressStyle::with_template(template).expect("a progress template"))
}
