//! Fresh sign-in links in the owner's notifications.
//!
//! With `RESTOCK_PUBLIC_URL` set, a notification that asks the owner to
//! sign in (the probe's `signed_out` and `reminder`) or to solve a bot
//! check (a `paused` notification for a `challenge`, `signin_required` or
//! `blocked` order) gets a new one-time link for its store, made as the
//! message is sent: "or sign in from your phone: <address>". Without a
//! public address a link would point at the listen address, which the
//! phone reading the notification cannot reach, so nothing is added.
//!
//! A link that cannot be made (a page is open, a buy is running) leaves
//! the message as it was. There is one link at a time: when two stores
//! sign out in the same probe run, the second message's link replaces the
//! first's (which then says "replaced"); `restock login STORE` or `POST
//! /stores/{store}/login` makes a new one. The link is a secret that goes to the
//! notification channel like the message itself; it works once and ends
//! after `RESTOCK_SIGNIN_LINK_TTL`.

use std::sync::{Arc, Weak};

use futures::future::BoxFuture;

use super::SignIn;
use crate::notify::{Decorator, Message};

/// The decorator to install on the notifier (see
/// [`crate::notify::Notifier::set_decorator`]).
pub fn decorator(svc: Weak<SignIn>) -> Decorator {
    Arc::new(move |msg: Message| -> BoxFuture<'static, Message> {
        let svc = svc.clone();
        Box::pin(async move {
            match svc.upgrade() {
                Some(svc) => with_link(&svc, msg).await,
                None => msg,
            }
        })
    })
}

/// The store a message asks the owner to sign in to, if it does.
pub fn wants_link(msg: &Message) -> Option<String> {
    let asks = match msg.event.as_str() {
        "signed_out" | "reminder" => true,
        "paused" => matches!(
            msg.data.get("status").and_then(|s| s.as_str()),
            Some("challenge" | "signin_required" | "blocked")
        ),
        _ => false,
    };
    if !asks {
        return None;
    }
    msg.data
        .get("store")
        .and_then(|s| s.as_str())
        .map(str::to_string)
}

async fn with_link(svc: &Arc<SignIn>, mut msg: Message) -> Message {
    if !svc.is_public() {
        return msg;
    }
    let Some(store) = wants_link(&msg) else {
        return msg;
    };
    match svc.mint(&store).await {
        Ok(minted) => {
            msg.body.push_str(&format!(
                "\n\nOr do it from your phone: {} (works once, for {}).",
                minted.url,
                humantime::format_duration(svc.limits().ttl)
            ));
            msg.data("signin_url", minted.url)
        }
        Err(e) => {
            tracing::info!(store, reason = %e, "no sign-in link in the notification");
            msg
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_messages_that_ask_for_a_sign_in_get_a_link() {
        let out = Message::new("signed_out", "t", "b").data("store", "demo");
        assert_eq!(wants_link(&out).as_deref(), Some("demo"));
        let challenge = Message::new("paused", "t", "b")
            .data("status", "challenge")
            .data("store", "demo");
        assert_eq!(wants_link(&challenge).as_deref(), Some("demo"));
        let capped = Message::new("paused", "t", "b")
            .data("status", "spend_capped")
            .data("store", "demo");
        assert_eq!(wants_link(&capped), None);
        assert_eq!(
            wants_link(&Message::new("signed_in", "t", "b").data("store", "demo")),
            None
        );
    }
}
