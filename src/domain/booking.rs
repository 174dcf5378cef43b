//! Bookings mirrored from the business's booking system, and the one-off
//! "book again" SMS reminder staff set on one (SPEC §7).
use super::Id;
use crate::clock::Timestamp;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{Days, Months, NaiveDate};
use rand::RngCore;

#[derive(Debug, Clone)]
pub struct Booking {
    pub id: Id,
    pub external_id: Option<String>,
    pub customer_id: Id,
    pub contact_name: String,
    /// Empty when the booking has none.
    pub email: String,
    /// Normalised (`+` and digits); empty when the booking has none.
    pub phone: String,
    pub start_time: Timestamp,
    pub paid: bool,
    /// The book-again reminder whose link the booking was made through.
    pub via_reminder_id: Option<Id>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Booking {
    /// A reminder may be set on any past booking, and on a future one once it is paid.
    pub fn allows_book_again(&self, now: Timestamp) -> bool {
        self.start_time < now || self.paid
    }
}

/// Days, weeks or calendar months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntervalUnit {
    Days,
    Weeks,
    Months,
}

impl IntervalUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            IntervalUnit::Days => "days",
            IntervalUnit::Weeks => "weeks",
            IntervalUnit::Months => "months",
        }
    }

    pub fn from_stored(s: &str) -> Self {
        match s {
            "weeks" => IntervalUnit::Weeks,
            "months" => IntervalUnit::Months,
            _ => IntervalUnit::Days,
        }
    }

    /// `count` units after `from`. Months are calendar months; a day the
    /// target month lacks becomes its last day (31 Jan + 1 month = 28/29 Feb).
    pub fn after(self, from: NaiveDate, count: u32) -> Option<NaiveDate> {
        match self {
            IntervalUnit::Days => from.checked_add_days(Days::new(count.into())),
            IntervalUnit::Weeks => from.checked_add_days(Days::new(u64::from(count) * 7)),
            IntervalUnit::Months => from.checked_add_months(Months::new(count)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookAgainState {
    Pending,
    Sent,
    Cancelled,
}

impl BookAgainState {
    pub fn as_str(self) -> &'static str {
        match self {
            BookAgainState::Pending => "pending",
            BookAgainState::Sent => "sent",
            BookAgainState::Cancelled => "cancelled",
        }
    }

    pub fn from_stored(s: &str) -> Self {
        match s {
            "sent" => BookAgainState::Sent,
            "cancelled" => BookAgainState::Cancelled,
            _ => BookAgainState::Pending,
        }
    }
}

/// Why a reminder was cancelled; kept with it for staff to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// The booking's name, e-mail or phone changed: the SMS might reach the wrong person.
    BookingChanged,
    BookingDeleted,
    /// The customer made a new booking before the SMS went out.
    BookedAgain,
    CancelledByStaff,
    /// A new reminder was set on the same booking.
    Replaced,
    /// At send time: the customer withdrew SMS consent meanwhile.
    SmsConsentWithdrawn,
    /// At send time: the workspace switched its SMS add-on off meanwhile.
    SmsDisabled,
    /// At send time: the workspace removed its online-booking URL meanwhile.
    NoBookingUrl,
}

impl CancelReason {
    const ALL: [CancelReason; 8] = [
        CancelReason::BookingChanged,
        CancelReason::BookingDeleted,
        CancelReason::BookedAgain,
        CancelReason::CancelledByStaff,
        CancelReason::Replaced,
        CancelReason::SmsConsentWithdrawn,
        CancelReason::SmsDisabled,
        CancelReason::NoBookingUrl,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::BookingChanged => "booking_changed",
            CancelReason::BookingDeleted => "booking_deleted",
            CancelReason::BookedAgain => "booked_again",
            CancelReason::CancelledByStaff => "cancelled_by_staff",
            CancelReason::Replaced => "replaced",
            CancelReason::SmsConsentWithdrawn => "sms_consent_withdrawn",
            CancelReason::SmsDisabled => "sms_disabled",
            CancelReason::NoBookingUrl => "no_booking_url",
        }
    }

    pub fn from_stored(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct BookAgainReminder {
    pub id: Id,
    /// The booking it was set on; kept (without the booking) once that is deleted.
    pub booking_id: Id,
    pub customer_id: Id,
    /// The booking's name and phone when the reminder was set.
    pub contact_name: String,
    pub phone: String,
    pub interval_count: i32,
    pub interval_unit: IntervalUnit,
    pub send_date: NaiveDate,
    pub state: BookAgainState,
    pub cancel_reason: Option<CancelReason>,
    pub token: String,
    pub sent_at: Option<Timestamp>,
    pub message: Option<String>,
    pub delivery_id: Option<Id>,
    pub created_by: Option<Id>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The `ref` of a book-again link: 128 random bits, short enough for an SMS,
/// too many to guess a reminder's attribution.
pub fn new_link_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The link an SMS carries: the workspace's online booking with the token.
pub fn booking_link(booking_url: &str, token: &str) -> String {
    let sep = if booking_url.contains('?') { '&' } else { '?' };
    format!("{booking_url}{sep}ref={token}")
}

/// How the SMS greets the customer: the first word of the booking's name.
pub fn first_name(contact_name: &str) -> Option<&str> {
    contact_name.split_whitespace().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn intervals_count_calendar_units() {
        assert_eq!(IntervalUnit::Days.after(d(2026, 3, 3), 14), Some(d(2026, 3, 17)));
        assert_eq!(IntervalUnit::Weeks.after(d(2026, 3, 3), 2), Some(d(2026, 3, 17)));
        assert_eq!(IntervalUnit::Months.after(d(2026, 1, 31), 1), Some(d(2026, 2, 28)));
        assert_eq!(IntervalUnit::Months.after(d(2027, 12, 31), 2), Some(d(2028, 2, 29)));
        assert_eq!(IntervalUnit::Months.after(d(2026, 5, 15), 12), Some(d(2027, 5, 15)));
    }

    #[test]
    fn links_and_names() {
        assert_eq!(booking_link("https://boka.example.se/fie", "t0k"), "https://boka.example.se/fie?ref=t0k");
        assert_eq!(booking_link("https://boka.example.se/?salon=4", "t0k"), "https://boka.example.se/?salon=4&ref=t0k");
        assert_eq!(first_name("  Saga Ögren "), Some("Saga"));
        assert_eq!(first_name(" "), None);
        assert_eq!(new_link_token().len(), 22);
        for r in CancelReason::ALL {
            assert_eq!(CancelReason::from_stored(r.as_str()), Some(r));
        }
    }
}
