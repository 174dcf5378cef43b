//! Protobuf ⇄ domain for notifications, inboxes and streams.
use super::{
    convert::{opt_ts, ts},
    pb,
};
use crate::{
    domain::{
        Id,
        inbox::{Delivery, DeliveryState, InboxMessage, SubscriptionEvent, SubscriptionSource},
        notification::{KindSetting, Mode, NotificationKind, NotificationSettings},
    },
    error::Violations,
    live::stream::{StreamError, StreamEvent},
};
use std::sync::Arc;
use tonic::Status;

pub fn kind_in(v: &mut Violations, field: &str, value: i32) -> Option<NotificationKind> {
    use pb::NotificationKind as P;
    let k = match P::try_from(value) {
        Ok(P::Unspecified) => return None,
        Ok(P::Welcome) => NotificationKind::Welcome,
        Ok(P::CardCreated) => NotificationKind::CardCreated,
        Ok(P::PunchRegistered) => NotificationKind::PunchRegistered,
        Ok(P::TimeRegistered) => NotificationKind::TimeRegistered,
        Ok(P::PunchesLow) => NotificationKind::PunchesLow,
        Ok(P::CardUsedUp) => NotificationKind::CardUsedUp,
        Ok(P::CardExpiring) => NotificationKind::CardExpiring,
        Ok(P::CardExpired) => NotificationKind::CardExpired,
        Ok(P::CardOverdrawn) => NotificationKind::CardOverdrawn,
        Ok(P::StaffReminder) => NotificationKind::StaffReminder,
        Ok(P::BookAgain) => NotificationKind::BookAgain,
        Err(_) => {
            v.add(field, format!("has an unknown value {value}"));
            return None;
        }
    };
    Some(k)
}

pub fn kind_out(k: Option<NotificationKind>) -> i32 {
    use pb::NotificationKind as P;
    match k {
        None => P::Unspecified,
        Some(NotificationKind::Welcome) => P::Welcome,
        Some(NotificationKind::CardCreated) => P::CardCreated,
        Some(NotificationKind::PunchRegistered) => P::PunchRegistered,
        Some(NotificationKind::TimeRegistered) => P::TimeRegistered,
        Some(NotificationKind::PunchesLow) => P::PunchesLow,
        Some(NotificationKind::CardUsedUp) => P::CardUsedUp,
        Some(NotificationKind::CardExpiring) => P::CardExpiring,
        Some(NotificationKind::CardExpired) => P::CardExpired,
        Some(NotificationKind::CardOverdrawn) => P::CardOverdrawn,
        Some(NotificationKind::StaffReminder) => P::StaffReminder,
        Some(NotificationKind::BookAgain) => P::BookAgain,
    }
    .into()
}

pub fn mode_in(v: &mut Violations, field: &str, value: i32) -> Option<Mode> {
    use pb::NotificationMode as P;
    match P::try_from(value) {
        Ok(P::Off) => Some(Mode::Off),
        Ok(P::On) => Some(Mode::On),
        Ok(P::OnDefaultOff) => Some(Mode::OnDefaultOff),
        Ok(P::Unspecified) => {
            v.add(field, "is required (OFF, ON or ON_DEFAULT_OFF)");
            None
        }
        Err(_) => {
            v.add(field, format!("has an unknown value {value}"));
            None
        }
    }
}

fn mode_out(m: Mode) -> i32 {
    match m {
        Mode::Off => pb::NotificationMode::Off as i32,
        Mode::On => pb::NotificationMode::On as i32,
        Mode::OnDefaultOff => pb::NotificationMode::OnDefaultOff as i32,
    }
}

pub fn settings_out(s: NotificationSettings) -> pb::NotificationSettings {
    pb::NotificationSettings {
        settings: s
            .settings
            .into_iter()
            .map(|k| pb::NotificationSetting {
                kind: kind_out(Some(k.kind)),
                mode: mode_out(k.mode),
                email: k.email,
                hub: k.hub,
            })
            .collect(),
        punches_low_threshold: s.punches_low_threshold,
        expiring_days_before: s.expiring_days_before,
    }
}

pub fn setting_in(v: &mut Violations, i: usize, s: &pb::NotificationSetting) -> Option<KindSetting> {
    let kind = kind_in(v, &format!("settings[{i}].kind"), s.kind);
    if kind.is_none() && s.kind == 0 {
        v.add(format!("settings[{i}].kind"), "is required");
    }
    let mode = mode_in(v, &format!("settings[{i}].mode"), s.mode);
    Some(KindSetting { kind: kind?, mode: mode?, email: s.email, hub: s.hub })
}

fn channel_out(c: &str) -> i32 {
    match c {
        "email" => pb::Channel::Email,
        "hub" => pb::Channel::Hub,
        "sms" => pb::Channel::Sms,
        "staff" => pb::Channel::Staff,
        _ => pb::Channel::Unspecified,
    }
    .into()
}

fn state_out(s: DeliveryState) -> i32 {
    match s {
        DeliveryState::Queued => pb::DeliveryState::Queued,
        DeliveryState::Sent => pb::DeliveryState::Sent,
        DeliveryState::Delivered => pb::DeliveryState::Delivered,
        DeliveryState::Failed => pb::DeliveryState::Failed,
        DeliveryState::Suppressed => pb::DeliveryState::Suppressed,
        DeliveryState::Cancelled => pb::DeliveryState::Cancelled,
    }
    .into()
}

pub fn delivery_out(d: Delivery) -> pb::Delivery {
    let queued = d.state == DeliveryState::Queued;
    pb::Delivery {
        id: d.id.into_string(),
        kind: kind_out(d.kind),
        channel: channel_out(&d.channel),
        recipient: d.recipient,
        contact_id: d.contact_id.map(Id::into_string).unwrap_or_default(),
        customer_id: d.customer_id.map(Id::into_string).unwrap_or_default(),
        subject: d.subject,
        state: state_out(d.state),
        suppress_reason: d.suppress_reason.unwrap_or_default(),
        attempts: d.attempts,
        last_error: d.last_error.unwrap_or_default(),
        create_time: Some(ts(d.created_at)),
        send_time: opt_ts(d.sent_at),
        next_attempt_time: queued.then(|| ts(d.next_attempt_at)),
    }
}

fn source_out(s: SubscriptionSource) -> i32 {
    match s {
        SubscriptionSource::Link => pb::SubscriptionSource::Link,
        SubscriptionSource::OneClick => pb::SubscriptionSource::OneClick,
        SubscriptionSource::Profile => pb::SubscriptionSource::Profile,
        SubscriptionSource::Staff => pb::SubscriptionSource::Staff,
    }
    .into()
}

pub fn subscription_event_out(e: SubscriptionEvent) -> pb::SubscriptionEvent {
    pb::SubscriptionEvent {
        id: e.id.into_string(),
        contact_id: e.contact_id.into_string(),
        subscribed: e.subscribed,
        source: source_out(e.source),
        shown_text: e.shown_text,
        staff_user_id: e.staff_user_id.map(Id::into_string).unwrap_or_default(),
        create_time: Some(ts(e.created_at)),
    }
}

pub fn inbox_out(m: InboxMessage) -> pb::InboxMessage {
    pb::InboxMessage {
        id: m.id.into_string(),
        sequence: m.seq,
        kind: kind_out(m.kind),
        title: m.title,
        body: m.body,
        link: m.link,
        customer_id: m.customer_id.map(Id::into_string).unwrap_or_default(),
        create_time: Some(ts(m.created_at)),
        read_time: opt_ts(m.read_at),
    }
}

/// A stream item: a message, a heartbeat, or the status that ends the stream.
pub enum Item {
    Message(pb::InboxMessage),
    Heartbeat(pb::Heartbeat),
}

pub fn stream_item(r: Result<StreamEvent, StreamError>) -> Result<Item, Status> {
    match r {
        Ok(StreamEvent::Message(m)) => Ok(Item::Message(inbox_out(Arc::unwrap_or_clone(m)))),
        Ok(StreamEvent::Heartbeat { at, last_seq }) => {
            Ok(Item::Heartbeat(pb::Heartbeat { time: Some(ts(at)), last_sequence: last_seq }))
        }
        Err(StreamError::App(e)) => Err((*e).into()),
        Err(StreamError::CredentialsEnded) => Err(Status::unauthenticated("the session behind this stream has ended")),
        Err(StreamError::LifetimeReached { last_seq }) => Err(Status::unavailable(format!(
            "the stream reached its maximum lifetime; resubscribe with after_sequence = {last_seq}"
        ))),
        Err(StreamError::ShuttingDown { last_seq }) => Err(Status::unavailable(format!(
            "this server is shutting down; resubscribe with after_sequence = {last_seq}"
        ))),
    }
}
