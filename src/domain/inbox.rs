//! HUB and staff inboxes, and the delivery history.
use super::{Id, notification::NotificationKind};
use crate::clock::Timestamp;

/// Whose inbox: a HUB contact's or a staff user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientKind {
    Contact,
    Staff,
}

impl RecipientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientKind::Contact => "contact",
            RecipientKind::Staff => "staff",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxMessage {
    pub id: Id,
    pub seq: i64,
    pub kind: Option<NotificationKind>,
    pub title: String,
    pub body: String,
    pub link: String,
    pub customer_id: Option<Id>,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Queued,
    Sent,
    Delivered,
    Failed,
    Suppressed,
    Cancelled,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Suppressed => "suppressed",
            DeliveryState::Cancelled => "cancelled",
        }
    }
    pub fn from_stored(s: &str) -> Self {
        match s {
            "sent" => DeliveryState::Sent,
            "delivered" => DeliveryState::Delivered,
            "failed" => DeliveryState::Failed,
            "suppressed" => DeliveryState::Suppressed,
            "cancelled" => DeliveryState::Cancelled,
            _ => DeliveryState::Queued,
        }
    }
}

/// One notification to one recipient on one channel, as staff see it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: Id,
    pub kind: Option<NotificationKind>,
    pub channel: String,
    pub recipient: String,
    pub contact_id: Option<Id>,
    pub customer_id: Option<Id>,
    pub subject: String,
    pub state: DeliveryState,
    pub suppress_reason: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub next_attempt_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionSource {
    Link,
    OneClick,
    Profile,
    Staff,
}

impl SubscriptionSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionSource::Link => "link",
            SubscriptionSource::OneClick => "one_click",
            SubscriptionSource::Profile => "profile",
            SubscriptionSource::Staff => "staff",
        }
    }
    pub fn from_stored(s: &str) -> Self {
        match s {
            "one_click" => SubscriptionSource::OneClick,
            "profile" => SubscriptionSource::Profile,
            "staff" => SubscriptionSource::Staff,
            _ => SubscriptionSource::Link,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SubscriptionEvent {
    pub id: Id,
    pub contact_id: Id,
    pub subscribed: bool,
    pub source: SubscriptionSource,
    pub shown_text: String,
    pub staff_user_id: Option<Id>,
    pub created_at: Timestamp,
}
