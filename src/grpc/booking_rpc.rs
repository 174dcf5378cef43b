//! Bookings, book-again reminders and SMS accounting (ReminderService).
use super::{
    booking_convert::{booking_fields_in, booking_out, reminder_out, sms_status_in, state_in, unit_in},
    caller::staff,
    convert, pb,
};
use crate::{
    app::{self, AppState, sms::DeliveryReport},
    domain::page::PageRequest,
    error::{AppError, Violations},
};
use tonic::{Request, Response, Status};

pub async fn record_booking(
    state: &AppState,
    req: Request<pb::RecordBookingRequest>,
) -> Result<Response<pb::RecordBookingResponse>, Status> {
    let caller = staff(&req)?;
    let b = req.into_inner().booking.ok_or_else(|| AppError::invalid("booking", "is required"))?;
    let (booking, created) = app::bookings::record(state, &caller, booking_fields_in(b)).await?;
    Ok(Response::new(pb::RecordBookingResponse { booking: Some(booking_out(booking)), created }))
}

pub async fn update_booking(
    state: &AppState,
    req: Request<pb::UpdateBookingRequest>,
) -> Result<Response<pb::UpdateBookingResponse>, Status> {
    let caller = staff(&req)?;
    let r = req.into_inner();
    let b = r.booking.ok_or_else(|| AppError::invalid("booking", "is required"))?;
    let id = b.id.clone();
    let booking =
        app::bookings::update(state, &caller, &id, booking_fields_in(b), &convert::mask(r.update_mask)).await?;
    Ok(Response::new(pb::UpdateBookingResponse { booking: Some(booking_out(booking)) }))
}

pub async fn delete_booking(
    state: &AppState,
    req: Request<pb::DeleteBookingRequest>,
) -> Result<Response<pb::DeleteBookingResponse>, Status> {
    let caller = staff(&req)?;
    app::bookings::delete(state, &caller, &req.get_ref().booking_id).await?;
    Ok(Response::new(pb::DeleteBookingResponse {}))
}

pub async fn list_bookings(
    state: &AppState,
    req: Request<pb::ListBookingsRequest>,
) -> Result<Response<pb::ListBookingsResponse>, Status> {
    let caller = staff(&req)?;
    let r = req.into_inner();
    let page = PageRequest::parse(r.page_size, &r.page_token)?;
    let page = app::bookings::list(state, &caller, &r.customer_id, page).await?;
    Ok(Response::new(pb::ListBookingsResponse {
        bookings: page.items.into_iter().map(booking_out).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn set_book_again_reminder(
    state: &AppState,
    req: Request<pb::SetBookAgainReminderRequest>,
) -> Result<Response<pb::SetBookAgainReminderResponse>, Status> {
    let caller = staff(&req)?;
    let r = req.into_inner();
    let mut v = Violations::new();
    let unit = unit_in(&mut v, r.interval_unit);
    // An unknown unit is named here; a missing one, with the other fields, by the app.
    v.into_result()?;
    let reminder = app::book_again::set(state, &caller, &r.booking_id, r.interval_count, unit).await?;
    Ok(Response::new(pb::SetBookAgainReminderResponse { book_again_reminder: Some(reminder_out(reminder)) }))
}

pub async fn cancel_book_again_reminder(
    state: &AppState,
    req: Request<pb::CancelBookAgainReminderRequest>,
) -> Result<Response<pb::CancelBookAgainReminderResponse>, Status> {
    let caller = staff(&req)?;
    let reminder = app::book_again::cancel(state, &caller, &req.get_ref().book_again_reminder_id).await?;
    Ok(Response::new(pb::CancelBookAgainReminderResponse { book_again_reminder: Some(reminder_out(reminder)) }))
}

pub async fn list_book_again_reminders(
    state: &AppState,
    req: Request<pb::ListBookAgainRemindersRequest>,
) -> Result<Response<pb::ListBookAgainRemindersResponse>, Status> {
    let caller = staff(&req)?;
    let r = req.into_inner();
    let mut v = Violations::new();
    let filter = state_in(&mut v, r.state);
    v.into_result()?;
    let page = PageRequest::parse(r.page_size, &r.page_token)?;
    let page = app::book_again::list(state, &caller, &r.customer_id, &r.booking_id, filter, page).await?;
    Ok(Response::new(pb::ListBookAgainRemindersResponse {
        book_again_reminders: page.items.into_iter().map(reminder_out).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn report_sms_delivery(
    state: &AppState,
    req: Request<pb::ReportSmsDeliveryRequest>,
) -> Result<Response<pb::ReportSmsDeliveryResponse>, Status> {
    let caller = staff(&req)?;
    let r = req.into_inner();
    let mut v = Violations::new();
    let delivered = sms_status_in(&mut v, r.status);
    v.into_result()?;
    let report = DeliveryReport { provider_message_id: r.provider_message_id, delivered, error: r.error };
    let id = app::sms::report_delivery(state, &caller, report).await?;
    Ok(Response::new(pb::ReportSmsDeliveryResponse { delivery_id: id.into_string() }))
}

pub async fn get_sms_usage(
    state: &AppState,
    req: Request<pb::GetSmsUsageRequest>,
) -> Result<Response<pb::GetSmsUsageResponse>, Status> {
    let caller = staff(&req)?;
    let r = req.get_ref();
    let u = app::sms::usage(state, &caller, &r.from_date, &r.to_date).await?;
    Ok(Response::new(pb::GetSmsUsageResponse {
        sent_count: u.usage.sent,
        delivered_count: u.usage.delivered,
        failed_count: u.usage.failed,
        price_minor: u.price_minor,
        cost_minor: u.cost_minor,
        currency: u.currency,
    }))
}
