//! Notification kinds and their per-workspace settings (SPEC §3).
use super::Module;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotificationKind {
    Welcome,
    CardCreated,
    PunchRegistered,
    TimeRegistered,
    PunchesLow,
    CardUsedUp,
    CardExpiring,
    CardExpired,
    CardOverdrawn,
    StaffReminder,
    BookAgain,
}

/// Why a queued notification was not sent after all, as the delivery
/// history tells it (`suppress_reason`). The change that causes one and the
/// check right before a send must name it alike.
pub mod suppress_reason {
    pub const CONTACT_DELETED: &str = "contact_deleted";
    pub const NO_HUB_ACCESS: &str = "no_hub_access";
    pub const EMAIL_CHANGED: &str = "email_changed";
    pub const UNSUBSCRIBED: &str = "unsubscribed";
    pub const SMS_CONSENT_WITHDRAWN: &str = "sms_consent_withdrawn";
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 11] = [
        NotificationKind::Welcome,
        NotificationKind::CardCreated,
        NotificationKind::PunchRegistered,
        NotificationKind::TimeRegistered,
        NotificationKind::PunchesLow,
        NotificationKind::CardUsedUp,
        NotificationKind::CardExpiring,
        NotificationKind::CardExpired,
        NotificationKind::CardOverdrawn,
        NotificationKind::StaffReminder,
        NotificationKind::BookAgain,
    ];

    /// The kinds a workspace switches with a mode: automatic mail to customers.
    pub const AUTOMATIC: [NotificationKind; 8] = [
        NotificationKind::CardCreated,
        NotificationKind::PunchRegistered,
        NotificationKind::TimeRegistered,
        NotificationKind::PunchesLow,
        NotificationKind::CardUsedUp,
        NotificationKind::CardExpiring,
        NotificationKind::CardExpired,
        NotificationKind::CardOverdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Welcome => "welcome",
            NotificationKind::CardCreated => "card_created",
            NotificationKind::PunchRegistered => "punch_registered",
            NotificationKind::TimeRegistered => "time_registered",
            NotificationKind::PunchesLow => "punches_low",
            NotificationKind::CardUsedUp => "card_used_up",
            NotificationKind::CardExpiring => "card_expiring",
            NotificationKind::CardExpired => "card_expired",
            NotificationKind::CardOverdrawn => "card_overdrawn",
            NotificationKind::StaffReminder => "staff_reminder",
            NotificationKind::BookAgain => "book_again",
        }
    }

    pub fn from_stored(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn is_automatic(self) -> bool {
        Self::AUTOMATIC.contains(&self)
    }

    /// The module a customer must have for its contacts to hear of this kind.
    pub fn module(self) -> Option<Module> {
        match self {
            NotificationKind::TimeRegistered => Some(Module::Timesheets),
            k if k.is_automatic() => Some(Module::PunchCards),
            _ => None,
        }
    }

    /// A fresh workspace's setting. "Time registered" starts off: it goes out
    /// at registration, and many businesses only want customers told at invoicing.
    pub fn default_setting(self) -> KindSetting {
        let mode = if self == NotificationKind::TimeRegistered { Mode::Off } else { Mode::On };
        KindSetting { kind: self, mode, email: true, hub: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    On,
    /// "Yes, but off by default": only where the single item asks for it.
    OnDefaultOff,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::On => "on",
            Mode::OnDefaultOff => "on_default_off",
        }
    }

    pub fn from_stored(s: &str) -> Option<Self> {
        [Mode::Off, Mode::On, Mode::OnDefaultOff].into_iter().find(|m| m.as_str() == s)
    }

    /// Whether an item with this per-item choice is notified.
    pub fn wants(self, per_item: Option<bool>) -> bool {
        match self {
            Mode::Off => false,
            Mode::On => per_item.unwrap_or(true),
            Mode::OnDefaultOff => per_item.unwrap_or(false),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSetting {
    pub kind: NotificationKind,
    pub mode: Mode,
    pub email: bool,
    pub hub: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationSettings {
    pub settings: Vec<KindSetting>,
    pub punches_low_threshold: i32,
    pub expiring_days_before: i32,
}

impl NotificationSettings {
    pub fn of(&self, kind: NotificationKind) -> KindSetting {
        self.settings.iter().copied().find(|s| s.kind == kind).unwrap_or_else(|| kind.default_setting())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_per_item_choices() {
        assert!(!Mode::Off.wants(Some(true)));
        assert!(Mode::On.wants(None));
        assert!(!Mode::On.wants(Some(false)));
        assert!(!Mode::OnDefaultOff.wants(None));
        assert!(Mode::OnDefaultOff.wants(Some(true)));
    }

    #[test]
    fn kinds_round_trip() {
        for k in NotificationKind::ALL {
            assert_eq!(NotificationKind::from_stored(k.as_str()), Some(k));
        }
        assert_eq!(NotificationKind::TimeRegistered.module(), Some(Module::Timesheets));
        assert_eq!(NotificationKind::PunchesLow.module(), Some(Module::PunchCards));
        assert_eq!(NotificationKind::Welcome.module(), None);
    }
}
