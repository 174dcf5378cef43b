//! Bookings mirrored from the business's booking system. What happens to a
//! booking decides the fate of its pending book-again reminder: a changed
//! name, e-mail or phone, or deleting it, cancels the reminder; a new future
//! booking of the same customer cancels the customer's pending reminders
//! (they booked again); a booking made with a reminder's link token is
//! attributed to that reminder. All of it in the booking's own transaction.
use super::{AppState, customers::parse_customer_id as parse_id, field_mask::mask_paths};
use crate::{
    clock::Timestamp,
    domain::{
        DisplayName, EmailAddress, Id, Phone, StaffPrincipal,
        booking::{Booking, CancelReason},
        external_ref,
        format::timestamp,
        page::{Page, PageRequest},
    },
    error::{AppError, AppResult, Violations},
    store::{self, TransactionTrait, Tx, book_again::Pending, bookings::BookingCursor},
};

/// A booking as a caller sends it.
#[derive(Debug, Default, Clone)]
pub struct BookingFields {
    pub external_id: String,
    pub customer_id: String,
    pub contact_name: String,
    pub email: String,
    pub phone: String,
    /// Seconds and nanoseconds since the epoch, as the request carried them.
    pub start_time: Option<(i64, i32)>,
    pub paid: bool,
    pub book_again_token: String,
}

/// The contact details a book-again SMS depends on, parsed.
struct Contact {
    name: String,
    email: String,
    phone: String,
}

fn parse_contact(v: &mut Violations, f: &BookingFields) -> Option<Contact> {
    let name = v.check("booking.contact_name", DisplayName::parse(&f.contact_name));
    let email = v.check("booking.email", EmailAddress::parse_optional(&f.email));
    let phone = v.check("booking.phone", Phone::parse_optional(&f.phone));
    Some(Contact {
        name: name?.as_str().to_string(),
        email: email?.map(|e| e.to_string()).unwrap_or_default(),
        phone: phone?.map(|p| p.as_str().to_string()).unwrap_or_default(),
    })
}

fn parse_start(v: &mut Violations, raw: Option<(i64, i32)>) -> Option<Timestamp> {
    match raw {
        Some((seconds, nanos)) => v.check("booking.start_time", timestamp(seconds, nanos)),
        None => {
            v.add("booking.start_time", "is required");
            None
        }
    }
}

/// Applies new contact details; a real change cancels the pending reminder,
/// since its SMS would otherwise go to details staff no longer hold.
async fn apply_contact(tx: &Tx, caller: &StaffPrincipal, b: &mut Booking, c: Contact, now: Timestamp) -> AppResult<()> {
    if (b.contact_name.as_str(), b.email.as_str(), b.phone.as_str()) != (&c.name, &c.email, &c.phone) {
        (b.contact_name, b.email, b.phone) = (c.name, c.email, c.phone);
        let ws = &caller.workspace_id;
        store::book_again::cancel(tx, ws, Pending::OfBooking(&b.id), CancelReason::BookingChanged, now).await?;
    }
    Ok(())
}

/// The reminder a link token names, if it names one of this workspace. The
/// token comes from a URL anyone can edit: one that names nothing (or is
/// junk) is no mistake of the booking system, the booking is just not attributed.
async fn attribution(tx: &Tx, caller: &StaffPrincipal, token: &str) -> AppResult<Option<Id>> {
    let token = token.trim();
    if token.is_empty() || token.len() > 64 {
        return Ok(None);
    }
    Ok(store::book_again::find_by_token(tx, &caller.workspace_id, token).await?.map(|r| r.id))
}

/// Records a booking, or updates the one with the same `external_id`;
/// returns it and whether it was new.
pub async fn record(state: &AppState, caller: &StaffPrincipal, f: BookingFields) -> AppResult<(Booking, bool)> {
    let mut v = Violations::new();
    let customer_id = v.check("booking.customer_id", Id::parse(&f.customer_id));
    let external_id = v.check("booking.external_id", external_ref(&f.external_id)).flatten();
    let contact = parse_contact(&mut v, &f);
    let start = parse_start(&mut v, f.start_time);
    v.into_result()?;
    let (Some(customer_id), Some(contact), Some(start)) = (customer_id, contact, start) else {
        unreachable!("violations are empty")
    };
    let scope = caller.scope();
    let ws = &caller.workspace_id;
    let now = state.clock.now();
    let tx = state.db.begin().await?;
    store::customers::require_visible(&tx, &scope, &customer_id).await?;
    let existing = match &external_id {
        Some(e) => store::bookings::find_by_external_id(&tx, &caller.workspace_id, e).await?,
        None => None,
    };
    let via = attribution(&tx, caller, &f.book_again_token).await?;
    let (booking, created) = match existing {
        Some(mut b) => {
            // The customer is one the caller may see, so a booking of it is
            // too; a booking of another customer (perhaps of another area)
            // is named no further.
            if b.customer_id != customer_id {
                return Err(AppError::invalid(
                    "booking.customer_id",
                    "differs from the customer of the booking recorded with this external_id",
                ));
            }
            apply_contact(&tx, caller, &mut b, contact, now).await?;
            b.start_time = start;
            b.paid = f.paid;
            b.via_reminder_id = b.via_reminder_id.or(via);
            (store::bookings::save(&tx, ws, &b, now).await?, false)
        }
        None => {
            let b = Booking {
                id: Id::generate(),
                external_id,
                customer_id,
                contact_name: contact.name,
                email: contact.email,
                phone: contact.phone,
                start_time: start,
                paid: f.paid,
                via_reminder_id: via,
                created_at: now,
                updated_at: now,
            };
            store::bookings::insert(&tx, ws, &b).await?;
            if b.start_time > now {
                // They booked again before the SMS went out: it has done its job.
                let which = Pending::OfCustomer(&b.customer_id);
                store::book_again::cancel(&tx, ws, which, CancelReason::BookedAgain, now).await?;
            }
            (b, true)
        }
    };
    tx.commit().await?;
    Ok((booking, created))
}

pub const BOOKING_MASK_PATHS: &[&str] = &["contact_name", "email", "phone", "start_time", "paid"];

pub async fn update(
    state: &AppState,
    caller: &StaffPrincipal,
    id: &str,
    f: BookingFields,
    mask: &[String],
) -> AppResult<Booking> {
    let id = parse_id("booking.id", id)?;
    let immutable = ["id", "external_id", "customer_id", "book_again_token", "via_book_again"];
    let paths = mask_paths(mask, BOOKING_MASK_PATHS, &immutable)?;
    let tx = state.db.begin().await?;
    let mut b = store::bookings::get(&tx, &caller.scope(), &id, true).await?;
    // Contact fields outside the mask keep their stored values; the three are parsed as one.
    let mut contact = BookingFields {
        contact_name: b.contact_name.clone(),
        email: b.email.clone(),
        phone: b.phone.clone(),
        ..Default::default()
    };
    let mut v = Violations::new();
    for p in &paths {
        match p.as_str() {
            "contact_name" => contact.contact_name = f.contact_name.clone(),
            "email" => contact.email = f.email.clone(),
            "phone" => contact.phone = f.phone.clone(),
            "start_time" => b.start_time = parse_start(&mut v, f.start_time).unwrap_or(b.start_time),
            "paid" => b.paid = f.paid,
            _ => {}
        }
    }
    let contact = parse_contact(&mut v, &contact);
    v.into_result()?;
    let contact = contact.expect("violations are empty");
    let now = state.clock.now();
    apply_contact(&tx, caller, &mut b, contact, now).await?;
    let b = store::bookings::save(&tx, &caller.workspace_id, &b, now).await?;
    tx.commit().await?;
    Ok(b)
}

/// Deletes a booking. Its reminders stay as history; a pending one is cancelled.
pub async fn delete(state: &AppState, caller: &StaffPrincipal, id: &str) -> AppResult<()> {
    let id = parse_id("booking_id", id)?;
    let ws = &caller.workspace_id;
    let now = state.clock.now();
    let tx = state.db.begin().await?;
    store::bookings::get(&tx, &caller.scope(), &id, true).await?;
    store::book_again::cancel(&tx, ws, Pending::OfBooking(&id), CancelReason::BookingDeleted, now).await?;
    store::bookings::delete(&tx, ws, &id).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list(
    state: &AppState,
    caller: &StaffPrincipal,
    customer_id: &str,
    page: PageRequest<BookingCursor>,
) -> AppResult<Page<Booking>> {
    let customer_id = parse_id("customer_id", customer_id)?;
    store::customers::require_visible(&state.reads, &caller.scope(), &customer_id).await?;
    store::bookings::list(&state.reads, &caller.workspace_id, &customer_id, page).await
}
