//! Staff reminders on customers (SPEC §6).
use super::{Id, recurrence::Repetition};
use crate::clock::Timestamp;
use chrono::NaiveDate;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderDelivery {
    SystemOnly,
    Email,
    Sms,
    EmailAndSms,
}

impl ReminderDelivery {
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderDelivery::SystemOnly => "system",
            ReminderDelivery::Email => "email",
            ReminderDelivery::Sms => "sms",
            ReminderDelivery::EmailAndSms => "email_sms",
        }
    }
    pub fn from_stored(s: &str) -> Self {
        match s {
            "email" => ReminderDelivery::Email,
            "sms" => ReminderDelivery::Sms,
            "email_sms" => ReminderDelivery::EmailAndSms,
            _ => ReminderDelivery::SystemOnly,
        }
    }
    pub fn email(self) -> bool {
        matches!(self, ReminderDelivery::Email | ReminderDelivery::EmailAndSms)
    }
    pub fn sms(self) -> bool {
        matches!(self, ReminderDelivery::Sms | ReminderDelivery::EmailAndSms)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Receivers {
    Admins,
    Supervisors,
    Both,
}

impl Receivers {
    pub fn as_str(self) -> &'static str {
        match self {
            Receivers::Admins => "admins",
            Receivers::Supervisors => "supervisors",
            Receivers::Both => "both",
        }
    }
    pub fn from_stored(s: &str) -> Self {
        match s {
            "admins" => Receivers::Admins,
            "supervisors" => Receivers::Supervisors,
            _ => Receivers::Both,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReminderType {
    pub id: Id,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Reminder {
    pub id: Id,
    pub customer_id: Id,
    pub name: String,
    pub first_date: NaiveDate,
    pub reminder_type_id: Option<Id>,
    pub text: String,
    pub repetition: Repetition,
    pub delivery: ReminderDelivery,
    pub receivers: Receivers,
    pub created_by: Option<Id>,
    pub next_fire_at: Option<Timestamp>,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
