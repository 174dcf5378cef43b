//! Protobuf ⇄ domain for bookings and book-again reminders.
use super::{
    convert::{opt_ts, ts},
    pb,
};
use crate::{
    app::bookings::BookingFields,
    domain::{
        Id,
        booking::{BookAgainReminder, BookAgainState, Booking, IntervalUnit},
        format::api_date,
    },
    error::Violations,
};

pub fn booking_fields_in(b: pb::Booking) -> BookingFields {
    BookingFields {
        external_id: b.external_id,
        customer_id: b.customer_id,
        contact_name: b.contact_name,
        email: b.email,
        phone: b.phone,
        start_time: b.start_time.map(|t| (t.seconds, t.nanos)),
        paid: b.paid,
        book_again_token: b.book_again_token,
    }
}

pub fn booking_out(b: Booking) -> pb::Booking {
    pb::Booking {
        id: b.id.into_string(),
        external_id: b.external_id.unwrap_or_default(),
        customer_id: b.customer_id.into_string(),
        contact_name: b.contact_name,
        email: b.email,
        phone: b.phone,
        start_time: Some(ts(b.start_time)),
        paid: b.paid,
        book_again_token: String::new(),
        via_book_again: b.via_reminder_id.is_some(),
        create_time: Some(ts(b.created_at)),
        update_time: Some(ts(b.updated_at)),
    }
}

pub fn unit_in(v: &mut Violations, value: i32) -> Option<IntervalUnit> {
    match pb::IntervalUnit::try_from(value) {
        Ok(pb::IntervalUnit::Days) => Some(IntervalUnit::Days),
        Ok(pb::IntervalUnit::Weeks) => Some(IntervalUnit::Weeks),
        Ok(pb::IntervalUnit::Months) => Some(IntervalUnit::Months),
        // The app names a missing unit.
        Ok(pb::IntervalUnit::Unspecified) => None,
        Err(_) => {
            v.add("interval_unit", format!("has an unknown value {value}"));
            None
        }
    }
}

fn unit_out(u: IntervalUnit) -> i32 {
    match u {
        IntervalUnit::Days => pb::IntervalUnit::Days,
        IntervalUnit::Weeks => pb::IntervalUnit::Weeks,
        IntervalUnit::Months => pb::IntervalUnit::Months,
    }
    .into()
}

pub fn state_in(v: &mut Violations, value: i32) -> Option<BookAgainState> {
    match pb::BookAgainState::try_from(value) {
        Ok(pb::BookAgainState::Pending) => Some(BookAgainState::Pending),
        Ok(pb::BookAgainState::Sent) => Some(BookAgainState::Sent),
        Ok(pb::BookAgainState::Cancelled) => Some(BookAgainState::Cancelled),
        Ok(pb::BookAgainState::Unspecified) => None,
        Err(_) => {
            v.add("state", format!("has an unknown value {value}"));
            None
        }
    }
}

fn state_out(s: BookAgainState) -> i32 {
    match s {
        BookAgainState::Pending => pb::BookAgainState::Pending,
        BookAgainState::Sent => pb::BookAgainState::Sent,
        BookAgainState::Cancelled => pb::BookAgainState::Cancelled,
    }
    .into()
}

pub fn reminder_out(r: BookAgainReminder) -> pb::BookAgainReminder {
    pb::BookAgainReminder {
        id: r.id.into_string(),
        booking_id: r.booking_id.into_string(),
        customer_id: r.customer_id.into_string(),
        interval_count: r.interval_count,
        interval_unit: unit_out(r.interval_unit),
        send_date: api_date(r.send_date),
        state: state_out(r.state),
        cancel_reason: r.cancel_reason.map(|c| c.as_str().to_string()).unwrap_or_default(),
        send_time: opt_ts(r.sent_at),
        phone: r.phone,
        message: r.message.unwrap_or_default(),
        delivery_id: r.delivery_id.map(Id::into_string).unwrap_or_default(),
        create_time: Some(ts(r.created_at)),
        created_by_staff_user_id: r.created_by.map(Id::into_string).unwrap_or_default(),
    }
}

/// A delivery report's status: `Some(true)` delivered, `Some(false)` failed.
pub fn sms_status_in(v: &mut Violations, value: i32) -> Option<bool> {
    match pb::SmsDeliveryStatus::try_from(value) {
        Ok(pb::SmsDeliveryStatus::Delivered) => Some(true),
        Ok(pb::SmsDeliveryStatus::Failed) => Some(false),
        // The app names a missing status.
        Ok(pb::SmsDeliveryStatus::Unspecified) => None,
        Err(_) => {
            v.add("status", format!("has an unknown value {value}"));
            None
        }
    }
}
