//! What travels between nodes and into caches stays small: an edited
//! message carries how many versions it has, not the versions.

use chrono::Utc;
use confab_core::id::{ChannelId, UserId};
use confab_core::model::EditRecord;
use confab_core::realtime::Event;
use confab_testkit::realtime_suite::sample_message;

#[test]
fn an_edited_message_travels_without_its_history() {
    let mut message = sample_message(ChannelId::new(), UserId::new(), "now");
    message.edit_history = (0..20)
        .map(|i| EditRecord {
            content: format!("version {i} {}", "x".repeat(5_000)),
            formatted_content: None,
            replaced_at: Utc::now(),
        })
        .collect();
    message.edit_count = message.edit_history.len();
    let event = serde_json::to_value(Event::MessageEdited { message }).unwrap();
    let text = event.to_string();
    assert!(!text.contains("version 0"), "no history in the event");
    assert!(text.len() < 2_000, "{} bytes", text.len());
    assert_eq!(event["message"]["edit_count"], 20);
}
