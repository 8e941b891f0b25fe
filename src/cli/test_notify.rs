//! `restock test-notify`: sends a test message to every channel in
//! `RESTOCK_NOTIFY` and says which answered (URLs redacted). Exit code 0
//! when all answered, 1 when one did not, 2 when none is configured.

use super::CliError;
use restock::config::Config;
use restock::notify::{Delivery, Message, Notifier};

pub async fn run(config: &Config) -> Result<(), CliError> {
    let deliveries = send_test(config).await?;
    let mut failed = 0;
    for d in &deliveries {
        let how = if d.ok { "ok    " } else { "FAILED" };
        failed += usize::from(!d.ok);
        println!("{how} {}  {}", d.channel, d.detail);
    }
    if failed > 0 {
        return Err(CliError::Refused(format!(
            "{failed} of {} channels did not answer",
            deliveries.len()
        )));
    }
    Ok(())
}

/// Sends the test message to every channel and says how each took it
/// (channels redacted); `restock doctor --notify` uses it too.
pub(super) async fn send_test(config: &Config) -> Result<Vec<Delivery>, CliError> {
    let notifier = Notifier::from_config(config).map_err(|e| CliError::Config(e.to_string()))?;
    if notifier.is_empty() {
        return Err(CliError::Config(
            "RESTOCK_NOTIFY is empty: set one or more notification URLs, e.g. ntfys://ntfy.sh/your-topic"
                .into(),
        ));
    }
    let host = std::env::var("HOSTNAME").unwrap_or_default();
    let msg = Message::new(
        "test",
        "restock test notification",
        format!(
            "This is a test from restock{}. If you read it, notifications work.",
            if host.is_empty() {
                String::new()
            } else {
                format!(" on {host}")
            }
        ),
    );
    Ok(notifier.deliver(&msg).await)
}
